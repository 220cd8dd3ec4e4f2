import Foundation

/// Who issued a receipt or invoice: the name at the head of it. Scores the first lines for a company form
/// (`SDN BHD`, `S/B`, `Ltd`, `GmbH`), a trade word (`TRADING`, `RESTAURANT`, `HARDWARE`), a registration
/// number on the next line, capitals and position, and against addresses, phone and tax numbers, slogans and
/// OCR noise. A company form alone on its line (`SDN BHD`) joins the name above it. The registration number
/// printed with the name is returned too: it is the key that tells two shops of the same name apart.
struct IssuerFinder {
    struct Result: Equatable {
        var name: String
        var registration: String?
        var confidence: Double
    }

    private static func regex(_ pattern: String) -> NSRegularExpression {
        try! NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
    }

    static let companyForm = regex(#"(?<![A-Za-z])(s[do0e]n\.?\s*b\w{1,3}\.?|bhd\.?|berhad|s/b|pte\.?\s*ltd\.?|pvt\.?\s*ltd\.?|ltd\.?|limited|llc|l\.l\.c\.|inc\.?|corp\.?|corporation|gmbh|s\.a\.|sarl|s\.r\.l\.|srl|plc|b\.v\.|co\.|company|& co)(?![A-Za-z])"#)
    /// Two-letter forms (`AG`, `SA`, `Oy`) are everywhere in OCR noise: only as printed, after a real word, ending the line.
    static let shortForm = try! NSRegularExpression(pattern: #"(?<=[A-Za-z]{3} )(AG|SA|AB|Oy|OY|Oyj|BV|KG|NV|AS)\.?$"#)

    static func hasForm(_ line: String) -> Bool { has(companyForm, line) || has(shortForm, line) }
    static let tradeWord = regex(#"(?<![A-Za-z])(enterprise|trading|restaurant|restoran|cafe|café|bakery|bakeries|hardware|stationery|bookstores?|book|mart|supermarket|pasaraya|kedai|store|stores|shop|pharmacy|hotel|petrol|bistro|pub|house|centre|center|gallery|marketing|distributor|seafood|industries|services|holdings|group|bank|insurance|logistics|properties|software|confectionery|cash & carry|market|boutique|clinic|motor|electrical|food|foods)(?![A-Za-z])"#)
    static let registrationLine = regex(#"^\W*(?:\(?\s*(?:co\.?|company|roc|br|business)?\s*(?:reg(?:istration)?\.?)?\s*(?:no\.?|number)?\s*[:.]?\s*)?\(?\s*\d{5,12}\s*[-–]*\s*[A-Z]\s*\)?\W*$|\b(co\.?\s*reg|company\s*reg|roc\s*no|br\s*no|co\.?\s*no\.?)\b"#)
    static let registration = regex(#"(?:(?:co\.?|company|roc|br)\s*(?:reg(?:istration)?\.?)?\s*(?:no\.?)?\s*[:.]?\s*)?\(?\s*(\d{5,12}\s*[-–]?\s*[A-Z])(?![A-Za-z])\s*\)?"#)
    static let address = regex(#"(?<![A-Za-z])(no\.?\s*:?\s*\d|lot\s|jalan|jln|taman|road|rd\.|street|st\.|avenue|ave\.?\s|floor|level|block|blk|bandar|kawasan|seksyen|persiaran|lorong|strasse|straße|suite|p\.?o\.? box)|(?<!\d)\d{5}(?!\d)"#)
    static let notAName = regex(#"(?<![A-Za-z])(tel|fax|phone|mobile|whatsapp|gst|vat|tax|invoice|receipt|cashier|date|time|www|http|thank|please|welcome|goods|sold|feedback|complaint|voucher|points|table|order|bill|counter|member|salesperson|posted|copy|shopping hours|opening hours)(?![A-Za-z])|@"#)

    func find(in text: String) -> Result? {
        let edge = CharacterSet(charactersIn: " |!¦_~-—–,;:'\"‘’“”*`^»«")
        let lines = text.split(separator: "\n").map { line in
            // Dots lead OCR'd lines as specks; a trailing one may close "Ltd." and stays.
            line.trimmingCharacters(in: edge).drop { $0 == "." || $0 == " " }.trimmingCharacters(in: edge)
        }.filter { !$0.isEmpty }
        let window = Array(lines.prefix(14))
        var best: (index: Int, score: Double)?
        var firstBusiness = true
        // A registration line ("CO. REG. NO: 000948487-V") names no one, though it holds "Co.".
        for (index, line) in window.enumerated() where !Self.isNoise(line) && !Self.has(Self.registrationLine, line) {
            var score = -0.6 * Double(index)
            let form = Self.hasForm(line), trade = Self.has(Self.tradeWord, line)
            if form { score += 5 }
            if trade { score += 3 }
            // The issuer heads the page; a company named further down is usually the customer.
            if (form || trade) && firstBusiness {
                score += 2
                firstBusiness = false
            }
            if index + 1 < window.count, Self.has(Self.registrationLine, window[index + 1]) || Self.has(Self.companyForm, window[index + 1]) && Self.isFormOnly(window[index + 1]) {
                score += 2
            }
            let letters = line.filter(\.isLetter)
            if Double(letters.filter(\.isUppercase).count) >= 0.7 * Double(letters.count) { score += 1.5 }
            if Self.has(Self.address, line) { score -= 6 }
            if Self.has(Self.notAName, line) { score -= 4 }
            if line.filter(\.isNumber).count > 4 && !Self.has(Self.registration, line) { score -= 2 }
            // A name has some substance: "AOU 12" or "< MRT" is a code or a logo's remains.
            if letters.count < 5 && line.split(separator: " ").filter({ $0.filter(\.isLetter).count >= 2 }).count < 2 { score -= 3 }
            if score > (best?.score ?? -.infinity) { best = (index, score) }
        }
        guard let best, best.score > -3 else { return nil }

        // A company form alone on its line belongs to the name above it ("POPULAR BOOK" / "CO. (M) SDN BHD").
        var start = best.index
        if Self.isFormOnly(window[best.index]), start > 0, !Self.isNoise(window[start - 1]), !Self.has(Self.address, window[start - 1]) {
            start -= 1
        }
        // A name in capitals on the line above belongs to it ("GHEE HIANG" / "GH DISTRIBUTOR & MARKETING SDN BHD").
        if start == best.index, start > 0, Self.isNameAbove(window[start - 1]) { start -= 1 }
        var end = best.index
        // A bracket opened in the name and closed on the next line: a branch wrapped onto it, with the company form
        // after it ("ENTERPRISE (SETIA" / "ALAM) SDN BHD").
        let opened = window[start...end].joined(separator: " ")
        if end + 1 < window.count, opened.filter({ $0 == "(" }).count > opened.filter({ $0 == ")" }).count, Self.closesBracket(window[end + 1]) {
            end += 1
        }
        if end + 1 < window.count, Self.isFormOnly(window[end + 1]) { end += 1 }
        let raw = window[start...end].joined(separator: " ")
        let name = Self.tidy(raw)
        guard name.filter(\.isLetter).count >= 3 else { return nil }

        var registration: String?
        for line in window[start...min(window.count - 1, end + 3)] {
            let ns = line as NSString
            if let match = Self.registration.firstMatch(in: line, range: NSRange(location: 0, length: ns.length)),
               line == window[start...end].last || Self.has(Self.registrationLine, line) || line.contains("(") {
                registration = ns.substring(with: match.range(at: 1)).replacingOccurrences(of: " ", with: "")
                break
            }
        }
        let confidence = best.score >= 6 ? 0.9 : best.score >= 3 ? 0.75 : best.score >= 0 ? 0.5 : 0.3
        return Result(name: name, registration: registration, confidence: confidence)
    }

    static func has(_ regex: NSRegularExpression, _ line: String) -> Bool {
        regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil
    }

    /// OCR of a logo, a stamp or a smudge: few letters, mostly one- and two-letter "words", or mostly symbols.
    /// Digits (a registration number) and a company form's initials (`MR. D.I.Y. (M) SDN BHD`) are not noise.
    static func isNoise(_ line: String) -> Bool {
        let letters = line.filter(\.isLetter).count
        let visible = line.filter { !$0.isWhitespace && !$0.isNumber && !".,()&'-/:".contains($0) }.count
        let words = line.split(separator: " ").filter { $0.contains(where: \.isLetter) }
        let short = words.filter { $0.filter(\.isLetter).count <= 2 }.count
        let shortWords = words.count >= 3 && Double(short) > 0.5 * Double(words.count) && !hasForm(line)
        return letters < 3 || Double(letters) < 0.6 * Double(visible) || shortWords
    }

    static func isNameAbove(_ line: String) -> Bool {
        let words = line.split(separator: " ")
        let letters = line.filter(\.isLetter)
        return (1...3).contains(words.count) && letters.count >= 4 && letters.allSatisfy(\.isUppercase) && !line.contains(where: \.isNumber)
            && !isNoise(line) && !has(address, line) && !has(notAName, line) && !hasForm(line)
    }

    /// The rest of a name whose bracket wrapped: closes it, and is no address, label or noise ("ALAM) SDN BHD").
    static func closesBracket(_ line: String) -> Bool {
        line.contains(")") && !isNoise(line) && !has(address, line) && !has(notAName, line)
    }

    /// "SDN BHD", "CO. (M) SDN BHD": a company form with at most a bracketed branch or one short word.
    static func isFormOnly(_ line: String) -> Bool {
        let ns = line as NSString
        let rest = companyForm.stringByReplacingMatches(in: line, range: NSRange(location: 0, length: ns.length), withTemplate: "")
            .replacingOccurrences(of: #"\([^)]*\)?"#, with: "", options: .regularExpression)
        return has(companyForm, line) && rest.filter(\.isLetter).count <= 2
    }

    private static let trailingRegistration = regex(#"\s*(?:[\(\[{]\s*(?:co\.?\s*reg\.?\s*(?:no\.?)?\s*:?\s*)?[A-Z]?\d{4,12}[^)\]}]*[\)\]}]?|(?:co\.?\s*reg\.?\s*(?:no\.?)?\s*:?\s*)?[A-Z]?\d{5,12}\s*[-–]?\s*[A-Z]?)(\s*\([A-Z]{2,4}\))?\s*$"#)
    private static let misreadForm = regex(#"(?<![A-Za-z])S[DO0EB]N\.?\s*B(?:HD|ILD|ED|HO|LD|HB|D)\.?(?![A-Za-z])"#)
    private static let misreadSB = regex(#"(?<![A-Za-z])[S§5]/B\w?(?![A-Za-z])"#)

    /// The name as printed, without the registration number after it, OCR's damage to the company form undone
    /// ("SON BHD", "SDN BILD", "§/B8"); a correctly printed form keeps its own spelling.
    static func tidy(_ raw: String) -> String {
        var name = trailingRegistration.stringByReplacingMatches(in: raw, range: NSRange(raw.startIndex..., in: raw), withTemplate: "")
        for (regex, form) in [(misreadForm, "SDN BHD"), (misreadSB, "S/B")] {
            let ns = name as NSString
            for match in regex.matches(in: name, range: NSRange(location: 0, length: ns.length)).reversed() {
                let found = ns.substring(with: match.range)
                if found.uppercased().filter(\.isLetter) != form.filter(\.isLetter) || found.contains(where: \.isNumber) {
                    name = (name as NSString).replacingCharacters(in: match.range, with: form)
                }
            }
        }
        name = name.replacingOccurrences(of: #"[{}\[\]|“”"]"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #"\s{2,}"#, with: " ", options: .regularExpression)
            .trimmingCharacters(in: CharacterSet(charactersIn: " -–,;:'"))
        // A full stop stays only where it closes an abbreviation ("Ltd.", "BHD.", "Co.").
        while name.hasSuffix("."), !hasForm(String(name.split(separator: " ").last ?? "")) {
            name.removeLast()
            name = name.trimmingCharacters(in: .whitespaces)
        }
        return name
    }
}
