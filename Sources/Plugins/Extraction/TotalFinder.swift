import Foundation

/// Picks a receipt's or invoice's bottom line from its money mentions. Every printed total is a candidate,
/// and so are the sums the document implies (cash − change, subtotal + tax): OCR misreads a digit in one
/// line far more often than in two that agree. Each candidate scores for its label (payable beats a plain
/// total), for agreeing with the cash handed over and the change, with subtotal + tax, with a summary row
/// (`Total 9.81 0.59 10.40`), and for being printed more than once; it loses for being smaller than an item.
struct TotalFinder {
    struct Result {
        var total: Decimal
        var label: String
        var currency: String?
        /// 0…1: how much of the document agrees.
        var confidence: Double
        var tax: (value: Decimal, label: String)?
    }

    struct Candidate {
        var value: Decimal
        var label: String
        var currency: String?
        var score: Double
        var line: Int
        var reasons: [String]
    }

    /// The largest cash rounding (Malaysia and others round to 5 sen/cents).
    static let roundingStep = Decimal(string: "0.05")!

    static let labelScore: [MoneyLabel: Double] = [.payable: 5, .total: 3.5]

    /// What the document says about the payment, read once.
    struct Context {
        var money: [AmountExtractor.Mention]
        var tendered: AmountExtractor.Mention?
        var change: AmountExtractor.Mention?
        var subtotal: AmountExtractor.Mention?
        /// The adjustment of a few cents, not a rounded total printed under "Rounding" after it.
        var roundingAdjustment: AmountExtractor.Mention?
        var rounding: Decimal { roundingAdjustment?.value ?? 0 }
        var largestItem: Decimal

        init(_ mentions: [AmountExtractor.Mention]) {
            money = mentions.filter { $0.role != .count }
            let money = self.money
            func last(_ role: MoneyLabel) -> AmountExtractor.Mention? { money.last { $0.role == role } }
            tendered = last(.tendered)
            change = last(.change)
            subtotal = money.last { $0.role == .subtotal && $0.position == 0 }
            roundingAdjustment = money.last { $0.role == .rounding && $0.value.magnitude <= 1 }
            largestItem = mentions.filter { $0.role == .none && $0.value > 0 && $0.cents }.map(\.value).max() ?? 0
        }
    }

    /// `lineItems`: the bought lines' amounts; their sum is what a receipt with an unreadable total added up to.
    /// `itemsCheck`: every item's quantity × unit price is its amount, so each was read right.
    func find(_ mentions: [AmountExtractor.Mention], lineItems: [Decimal] = [], itemsCheck: Bool = false) -> Result? {
        let context = Context(mentions)
        var candidates = printed(context)
        addDerived(to: &candidates, context, itemSum: lineItems.reduce(0, +))
        confirm(&candidates, lineItems: lineItems, itemsCheck: itemsCheck, context)
        guard !candidates.isEmpty else { return nil }
        score(&candidates, context)
        return result(candidates, context)
    }

    /// The printed totals (and a rounded total printed under "Rounding").
    private func printed(_ context: Context) -> [Candidate] {
        let money = context.money
        var candidates: [Candidate] = []
        for mention in money where mention.value > 0 {
            var score: Double
            switch mention.role {
            case .payable, .total:
                score = Self.labelScore[mention.role]!
                // A summary row's first number is the subtotal; its last is the total ("Total 9.81 0.59 10.40").
                if mention.onLine >= 3 && mention.position < mention.onLine - 1 { continue }
                if mention.onLine == 2 && mention.position == 0 { score -= 1.5 }
            case .rounding where !MoneyLabel.fold(mention.label).contains("adj"):
                score = 5.5 // "Rounding RM 177.20": the rounded total, printed under that word after the unrounded one.
            default:
                continue
            }
            candidates.append(Candidate(value: mention.value.magnitude, label: mention.label, currency: mention.currency, score: score,
                                        line: mention.line, reasons: [mention.role == .rounding ? "rounded" : "label"]))
        }
        return candidates
    }

    /// The sums the document implies — cash − change, subtotal + tax, total + rounding — confirm a printed total
    /// or stand as candidates of their own.
    private func addDerived(to candidates: inout [Candidate], _ context: Context, itemSum: Decimal) {
        let (money, tendered, change, subtotal, rounding) = (context.money, context.tendered, context.change, context.subtotal, context.rounding)
        var derived: [(Decimal, String)] = []
        // With no change given, cash − change is the cash line alone: one reading, not two that agree.
        if let tendered, let change, tendered.line <= change.line, change.value != 0, change.value.magnitude < tendered.value.magnitude {
            let printed = candidates.map(\.value) + (itemSum > 0 ? [itemSum] : [])
            derived.append((Self.paid(tendered.value.magnitude, change: change.value.magnitude, printed: printed), "cash − change"))
        }
        // Tax is a share of the subtotal: a "tax" larger than it is a misread or no tax at all.
        if let subtotal, let tax = money.last(where: { $0.role == .tax && $0.line > subtotal.line && $0.value > 0 }),
           tax.value.magnitude < subtotal.value.magnitude {
            derived.append((subtotal.value.magnitude + tax.value.magnitude + rounding, "subtotal + tax"))
        }
        // A printed total and the rounding adjustment after it: the amount actually paid (31.47 − 0.02).
        if rounding != 0, let roundingLine = context.roundingAdjustment?.line,
           let printed = candidates.last(where: { $0.line < roundingLine && $0.reasons == ["label"] }) {
            derived.append((printed.value + rounding, "total + rounding"))
        }
        // A total, an amount after it, and a later, larger total that is the two added up: the later one is the bill
        // after that charge (a tax whose label is misread, a tip, a service charge), the earlier one its subtotal
        // (wr_955e0c71: "Net Total $38.58", "lax $2.42", "TOTAL: $41.00", "Amount Due: $41.00").
        let labelled = candidates.filter { $0.reasons == ["label"] }
        var added: [Decimal] = []
        for earlier in labelled {
            for later in labelled where later.line > earlier.line && later.value > earlier.value && !added.contains(later.value) {
                let charge = later.value - earlier.value
                if money.contains(where: { $0.line > earlier.line && $0.line < later.line && $0.cents && MoneyText.same($0.value.magnitude, charge) }) {
                    added.append(later.value)
                    derived.append((later.value, "total + charge"))
                }
            }
        }
        for (value, reason) in derived where value > 0 {
            let weight = reason == "cash − change" ? 5.5 : 3.5
            var matched = false
            for index in candidates.indices where MoneyText.same(candidates[index].value, value) {
                candidates[index].score += weight
                candidates[index].reasons.append(reason)
                matched = true
            }
            if !matched {
                // Paid a few cents off a printed total: the rounded amount actually paid (31.47 printed, 31.45 paid).
                let rounded = candidates.contains { ($0.value - value).magnitude <= Decimal(string: "0.05")! }
                // A sum that is also what was paid with no change: three readings agree, against a printed total one
                // misread away (sroie_405 read by the CLI: "Total Sales 177,22", "Rounding Adjustment -.02",
                // "Rounding 177,26", "CREDIT 177,20").
                let paid = tendered.map { MoneyText.same($0.value.magnitude, value) } == true && (change == nil || change?.value == 0)
                candidates.append(Candidate(value: value, label: "Total", currency: tendered?.currency,
                                            score: weight - 0.5 + (rounded ? 1 : 0) + (paid ? 1 : 0),
                                            line: change?.line ?? subtotal?.line ?? 0, reasons: [reason]))
            }
        }
    }

    /// Cash − change; when that is no amount the document prints as its total or its items' sum, but reading one
    /// digit of the cash or the change otherwise makes it exactly one such amount, that reading: the faded 0 of
    /// thermal print read as 6 (sroie_043: "CASH : 200.00", "CHANGE : 16.00", items 190.00 — the change was 10.00).
    static func paid(_ tendered: Decimal, change: Decimal, printed: [Decimal]) -> Decimal {
        let exact = tendered - change
        guard !printed.contains(where: { MoneyText.same($0, exact) }) else { return exact }
        let readings = MoneyText.misreadings(of: change).map { tendered - $0 } + MoneyText.misreadings(of: tendered).map { $0 - change }
        let agreeing = readings.filter { value in value > 0 && printed.contains { MoneyText.same($0, value) } }
        guard let first = agreeing.first, agreeing.allSatisfy({ MoneyText.same($0, first) }) else { return exact }
        return first
    }

    private func confirm(_ candidates: inout [Candidate], lineItems: [Decimal], itemsCheck: Bool, _ context: Context) {
        let (tendered, change) = (context.tendered, context.change)
        // The items adding up to a printed total confirm it; item lines are too noisy to stand alone.
        let itemSum = lineItems.reduce(0, +)
        for index in candidates.indices where itemSum > 0 && MoneyText.same(candidates[index].value, itemSum) {
            candidates[index].score += 2
            candidates[index].reasons.append("sum of items")
        }
        if candidates.isEmpty, context.tendered == nil, itemsCheck, itemSum > 0 {
            // No total, no payment legible, but items whose quantity × price is their amount: what they add up to
            // (sroie_005 read by the CLI: "Tatal Amount:" with its figure lost, "2 15.50 31.00").
            candidates.append(Candidate(value: itemSum, label: "Total", currency: nil, score: 1, line: 0, reasons: ["sum of items"]))
        }
        if candidates.isEmpty, let tendered {
            let subtotal = context.subtotal?.value.magnitude ?? 0
            // The change line with its label misread: a lone zero on the line after the payment ("a 0.00").
            let zeroAfter = change == nil && context.money.contains { $0.line == tendered.line + 1 && $0.role == .none && $0.value == 0 && $0.cents }
            if (change?.value == 0 || zeroAfter), tendered.value.magnitude >= subtotal {
                // Nothing says "total" but the money handed over, and no change given: that was the total
                // (sroie_280: "NET TOTAL 2.2", "Cash 22.25", "a 0.00").
                candidates.append(Candidate(value: tendered.value.magnitude, label: tendered.label, currency: tendered.currency, score: 2,
                                            line: tendered.line, reasons: ["paid exactly"]))
            } else if let printedSubtotal = context.subtotal, let unlabelled = context.money.last(where: {
                $0.role == .none && $0.cents && $0.line > printedSubtotal.line && $0.line < tendered.line && $0.value >= subtotal && $0.value > 0
            }) {
                // The total's label lost (a punched hole, a smudge): the amount printed between the subtotal and the
                // payment, not below the subtotal. A payment below the subtotal is a misread (sroie_255: "SUB-TOTAL
                // 92.50", "1 94.00", "CASH 64.00").
                candidates.append(Candidate(value: unlabelled.value, label: "Total", currency: unlabelled.currency, score: 1.5,
                                            line: unlabelled.line, reasons: ["before the payment"]))
            }
        }
        // Paid with no change an amount one misread digit away from the printed total: one of the two is misread,
        // and the amount the receipt prints more often is the one read right (sroie_168: "Due 29.15", "Pay 25.15",
        // "Change 0.00", and 25.15 on the quantity line too).
        if let tendered, change?.value == 0 {
            let paid = tendered.value.magnitude
            func printings(_ value: Decimal) -> Int { Set(context.money.filter { $0.cents && MoneyText.same($0.value.magnitude, value) }.map(\.line)).count }
            if let printed = candidates.filter({ $0.reasons == ["label"] }).max(by: { $0.score < $1.score }),
               !MoneyText.same(printed.value, paid), MoneyText.oneMisreadApart(printed.value, paid), printings(paid) > printings(printed.value) {
                candidates.append(Candidate(value: paid, label: printed.label, currency: tendered.currency ?? printed.currency, score: printed.score,
                                            line: tendered.line, reasons: ["paid exactly"]))
            }
        }
        // Rounding lines that are not the rounded total: adjustments of a few cents.
        let printedTotal = candidates.filter { $0.reasons == ["label"] }.map(\.value).max() ?? 0
        candidates.removeAll { $0.reasons == ["rounded"] && $0.value * 2 < printedTotal }

    }

    /// Repeats, the money handed over, the subtotal, items larger than it, tax words and position.
    private func score(_ candidates: inout [Candidate], _ context: Context) {
        let (money, tendered, change, subtotal, largestItem) = (context.money, context.tendered, context.change, context.subtotal, context.largestItem)
        let largest = candidates.map(\.value).max() ?? 0
        for index in candidates.indices {
            let value = candidates[index].value
            let repeats = Set(money.filter { MoneyText.same($0.value.magnitude, value) && $0.role.isSummary }.map(\.line)).count
            candidates[index].score += Double(min(max(repeats - 1, 0), 2)) * 0.75
            if let tendered, MoneyText.same(tendered.value.magnitude, value), change == nil || change!.value == 0 {
                candidates[index].score += 1.5
            }
            if let subtotal, MoneyText.same(subtotal.value.magnitude, value) { candidates[index].score += 0.5 }
            if value < largestItem && !MoneyText.same(value, largestItem) { candidates[index].score -= 2 }
            // "Total incl. GST 1.42" next to a total ten times larger is the tax, not the total.
            if MoneyLabel.fold(candidates[index].label).split(separator: " ").contains(where: { MoneyLabel.taxWords.contains(String($0)) }),
               value * 3 < largest {
                candidates[index].score -= 6
            }
            // The bottom line is printed low: a small tie-breaker for later lines.
            candidates[index].score += Double(candidates[index].line) * 0.001
        }
    }

    private func result(_ candidates: [Candidate], _ context: Context) -> Result {
        let money = context.money
        let best = candidates.max { $0.score < $1.score }!
        let agreeing = candidates.filter { MoneyText.same($0.value, best.value) }.flatMap(\.reasons)
        let confidence = min(0.98, 0.35 + 0.2 * Double(Set(agreeing).count) + (best.reasons.contains("label") ? 0.15 : 0))
        // The tax: a tax line, else a "total incl. GST" too small to be the total (which is what it then was).
        var tax: (value: Decimal, label: String)? = money.last { $0.role == .tax && $0.value > 0 && $0.value < best.value }.map { ($0.value, $0.label) }
        if tax == nil, let demoted = candidates.last(where: { $0.score < 0 && $0.value < best.value }) {
            tax = (demoted.value, demoted.label)
        }
        let currency = best.currency ?? money.first { MoneyText.same($0.value.magnitude, best.value) && $0.currency != nil }?.currency
        return Result(total: best.value, label: best.label.isEmpty ? "Total" : best.label, currency: currency,
                      confidence: (confidence * 100).rounded() / 100, tax: tax)
    }
}
