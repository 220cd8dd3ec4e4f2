import Foundation

/// The currency of a document: the one printed most, else what the document says about where it is from
/// (a tax's name, a company form, a place, a phone prefix), else the operator's `DEFAULT_CURRENCY`. A `$`
/// is the dollar of the country the document is from (Malaysian shops print `$` for ringgit, Singapore's
/// for its own dollar), US dollars when nothing says otherwise.
struct CurrencyGuess {
    /// Words and marks that place a document in a country, and that country's currency.
    static let places: [(currency: String, patterns: [String])] = [
        ("MYR", [#"\bsdn\.?\s*bhd\b"#, #"\bbhd\b"#, #"\bberhad\b"#, #"\bs/b\b"#, #"\bmalaysia\b"#, #"\bselangor\b"#, #"\bkuala lumpur\b"#,
                 #"\bjohor\b"#, #"\bpenang\b"#, #"\bpulau pinang\b"#, #"\bjalan\b"#, #"\bjln\b"#, #"\btaman\b"#, #"\+60\d"#, #"\bsst\b"#, #"\bringgit\b"#]),
        ("SGD", [#"\bsingapore\b"#, #"\bpte\.?\s*ltd\b"#, #"\+65\s?\d"#]),
        ("INR", [#"\bgstin\b"#, #"\bcgst\b"#, #"\bsgst\b"#, #"\bpvt\.?\s*ltd\b"#, #"\+91\s?\d"#, #"\bindia\b"#, #"\brupees\b"#]),
        ("GBP", [#"\bunited kingdom\b"#, #"\blondon\b"#, #"\+44\s?\d"#, #"\b[a-z]{1,2}\d{1,2}[a-z]?\s\d[a-z]{2}\b"#, #"\bvat reg"#]),
        ("EUR", [#"\bmwst\b"#, #"\bust-?id"#, #"\bgmbh\b"#, #"\bdeutschland\b"#, #"\btva\b"#, #"\bsiret\b"#, #"\biva\b"#, #"\bbtw\b"#,
                 #"\+49\s?\d"#, #"\+33\s?\d"#, #"\+34\s?\d"#, #"\+39\s?\d"#, #"\+31\s?\d"#, #"\+43\s?\d"#, #"\biban\s*(de|fr|es|it|nl|at|be)\d"#]),
        ("AUD", [#"\babn\b"#, #"\baustralia\b"#, #"\bpty\.?\s*ltd\b"#, #"\+61\s?\d"#]),
        ("CAD", [#"\bcanada\b"#, #"\bhst\b"#, #"\bqst\b"#, #"\+1\s?\(?[2-9]\d\d\)?\s?\d{3}[- ]\d{4}.*\bcanada\b"#]),
        ("USD", [#"\bsales tax\b"#, #"\busa\b"#, #"\bunited states\b"#, #"\b[A-Z]{2} \d{5}(-\d{4})?\b"#]),
        ("IDR", [#"\bindonesia\b"#, #"\bjakarta\b"#, #"\bppn\b"#]),
        ("PHP", [#"\bphilippines\b"#, #"\bmanila\b"#]),
        ("THB", [#"\bthailand\b"#, #"\bbangkok\b"#]),
    ]
    private static let compiled: [(String, [NSRegularExpression])] = places.map { place in
        (place.currency, place.patterns.map { try! NSRegularExpression(pattern: $0, options: $0.contains("[A-Z]") ? [] : [.caseInsensitive]) })
    }
    static let dollarCountries: Set<String> = ["MYR", "SGD", "AUD", "CAD", "USD", "HKD", "NZD"]

    /// The country the document's words point to (as its currency), with how many clues said so.
    let place: (currency: String, clues: Int)?
    /// The document's currency and how sure that is (1 printed, 0.6–0.8 inferred from the place, 0.4 the default).
    let document: (code: String, confidence: Double)?

    /// `printed`: the currency of every amount that printed one.
    init(text: String, printed: [String], fallback: String?) {
        let range = NSRange(text.startIndex..., in: text)
        var best: (String, Int)?
        for (currency, patterns) in Self.compiled {
            let clues = patterns.filter { $0.firstMatch(in: text, range: range) != nil }.count
            if clues > (best?.1 ?? 0) { best = (currency, clues) }
        }
        place = best
        var counts: [String: Int] = [:]
        for code in printed { counts[Self.local(code, place: best?.0), default: 0] += 1 }
        if let top = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) {
            // One odd symbol (an OCR `€` in a Malaysian receipt) does not outweigh where the document is from.
            if top.value == 1, let best, best.1 >= 2, best.0 != top.key {
                document = (best.0, 0.8)
            } else {
                document = (top.key, 1)
            }
        } else if let best {
            document = (best.0, best.1 >= 2 ? 0.8 : 0.6)
        } else {
            document = fallback.map { ($0, 0.4) }
        }
    }

    /// An amount's currency: what it printed, as the document's country reads it, else the document's.
    func currency(of printed: String?) -> String? {
        printed.map { Self.local($0, place: place?.currency) } ?? document?.code
    }

    /// A printed `$` (read as USD) on a document from another dollar country is that country's dollar.
    private static func local(_ code: String, place: String?) -> String {
        if code == "USD", let place, dollarCountries.contains(place) { return place }
        return code
    }

    /// Day or month first when the document's own dates do not say: month first only for the US.
    var monthFirst: Bool {
        place?.currency == "USD" || (place == nil && document?.code == "USD")
    }
}
