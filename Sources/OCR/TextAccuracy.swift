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

    /// Share of the reference's words found in the recognised text, order-free (each recognised word counts
    /// once): the metric of the scribeocr benchmark, punctuation at word ends ignored. `foldCase` for truths
    /// whose case differs from the print (SROIE's receipts are transcribed in upper case).
    public static func wordRecall(recognized: String, reference: String, foldCase: Bool = false) -> Double {
        let truth = words(reference, foldCase: foldCase)
        guard !truth.isEmpty else { return 1 }
        var available: [String: Int] = [:]
        for word in words(recognized, foldCase: foldCase) { available[word, default: 0] += 1 }
        var found = 0
        for word in truth where available[word, default: 0] > 0 {
            available[word]! -= 1
            found += 1
        }
        return Double(found) / Double(truth.count)
    }

    static func words(_ text: String, foldCase: Bool) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace }).compactMap { token in
            let trimmed = token.trimmingCharacters(in: .punctuationCharacters.union(.symbols))
            guard !trimmed.isEmpty else { return nil }
            return foldCase ? trimmed.lowercased() : trimmed
        }
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
