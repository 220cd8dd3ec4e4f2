import Foundation

/// Character error rate against a ground truth, the usual OCR quality measure.
public enum TextAccuracy {
    /// Levenshtein distance over Unicode scalars divided by the reference length, after folding every
    /// run of whitespace to one space (layout spacing is not what OCR quality is about).
    public static func characterErrorRate(recognized: String, reference: String) -> Double {
        let hypothesis = normalized(recognized)
        let truth = normalized(reference)
        guard !truth.isEmpty else { return hypothesis.isEmpty ? 0 : 1 }
        return Double(editDistance(hypothesis, truth)) / Double(truth.count)
    }

    /// The same with every whitespace character removed: for truths that drop the spaces inside a text
    /// segment (WildReceipt's `WecometoChick-fil-A`), where spacing cannot be judged at all.
    public static func characterErrorRateIgnoringSpaces(recognized: String, reference: String) -> Double {
        let hypothesis = recognized.unicodeScalars.filter { !$0.properties.isWhitespace }
        let truth = reference.unicodeScalars.filter { !$0.properties.isWhitespace }
        guard !truth.isEmpty else { return hypothesis.isEmpty ? 0 : 1 }
        return Double(editDistance(Array(hypothesis), Array(truth))) / Double(truth.count)
    }

    /// How a word's punctuation is compared.
    public enum Punctuation: Sendable {
        /// Stripped at the word's ends: what the corpora's README asks for receipts, forms and photos.
        case trimmedAtEnds
        /// Ignored anywhere in the word except next to a digit, as the scribeocr benchmark's own evaluation
        /// (scribe.js `compareOCR` with `ignorePunct`) does: `don’t` and `don't` are one word, while `$1,000`,
        /// `(75.9)` and `-2%` must match as printed, because there the punctuation is part of the figure.
        case ignoredAwayFromDigits
    }

    /// Share of the reference's words found in the recognised text, order-free (each recognised word counts
    /// once): the metric of the scribeocr benchmark. `foldCase` for truths whose case differs from the print
    /// (SROIE's receipts are transcribed in upper case).
    public static func wordRecall(recognized: String, reference: String, foldCase: Bool = false,
                                  punctuation: Punctuation = .trimmedAtEnds) -> Double {
        let truth = words(reference, foldCase: foldCase, punctuation: punctuation)
        guard !truth.isEmpty else { return 1 }
        var available: [String: Int] = [:]
        for word in words(recognized, foldCase: foldCase, punctuation: punctuation) { available[word, default: 0] += 1 }
        var found = 0
        for word in truth where available[word, default: 0] > 0 {
            available[word]! -= 1
            found += 1
        }
        return Double(found) / Double(truth.count)
    }

    static func words(_ text: String, foldCase: Bool, punctuation: Punctuation = .trimmedAtEnds) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace }).compactMap { token in
            let kept: String
            switch punctuation {
            case .trimmedAtEnds: kept = token.trimmingCharacters(in: .punctuationCharacters.union(.symbols))
            case .ignoredAwayFromDigits: kept = withoutPunctuationAwayFromDigits(token)
            }
            guard !kept.isEmpty else { return nil }
            return foldCase ? kept.lowercased() : kept
        }
    }

    /// scribe.js's rule, one left-to-right pass of `(^|\D)[\W_]($|\D)` → `$1$2`: a character that is neither a
    /// letter nor a digit goes unless a digit is next to it. As in that single regex pass, a character kept as the
    /// right-hand context of one removal is not itself removed (`So--this` keeps one hyphen).
    static func withoutPunctuationAwayFromDigits(_ token: Substring) -> String {
        let characters = Array(token)
        func isWord(_ character: Character) -> Bool { character.isLetter || character.isNumber }
        var kept: [Character] = []
        var index = 0
        // Index of the character consumed as the previous match's right-hand context (it cannot open a match).
        var consumedUpTo = -1
        while index < characters.count {
            let character = characters[index]
            let left: Character? = index > 0 ? characters[index - 1] : nil
            let right: Character? = index + 1 < characters.count ? characters[index + 1] : nil
            let leftOK = left.map { !$0.isNumber && index - 1 > consumedUpTo } ?? true
            let rightOK = right.map { !$0.isNumber } ?? true
            if !isWord(character), leftOK, rightOK {
                // The right-hand context is consumed: it stays, and the next match starts after it.
                if let right {
                    kept.append(right)
                    consumedUpTo = index + 1
                    index += 2
                } else {
                    index += 1
                }
                continue
            }
            kept.append(character)
            index += 1
        }
        return String(kept)
    }

    static func normalized(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !scalars.isEmpty
            } else {
                if pendingSpace { scalars.append(" ") }
                pendingSpace = false
                scalars.append(scalar)
            }
        }
        return scalars
    }

    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
