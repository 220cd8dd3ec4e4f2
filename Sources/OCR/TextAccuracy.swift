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
