import Foundation

/// What the words before an amount say it is. Receipts and invoices name the same few things in many ways
/// (`NETT TOTAL`, `Total Amt Payable`, `Total Sales (Inclusive of GST)`, `Tota|`), so the label is folded
/// first (case, OCR's `Tota|`/`Totai`, `Amt`, `Nett`, `Incl.`) and then read for its role.
enum MoneyLabel: Equatable, Sendable {
    /// What is paid: grand/net/final/rounded total, amount due, total incl. tax.
    case payable
    /// A plain "Total".
    case total
    /// Before tax or discount: subtotal, total excl. tax.
    case subtotal
    case tax
    /// Handed over: cash, card, tendered.
    case tendered
    case change
    case rounding
    case discount
    /// Not money: quantities, item counts.
    case count
    /// A known money word that is none of the above (deposit, fee, charge, balance).
    case otherMoney
    /// Words that are not about money at all: an item's description, or nothing.
    case none

    /// The label folded to lower-case words, OCR's usual damage to the money words undone.
    static func fold(_ label: String) -> String {
        var text = " " + label.lowercased() + " "
        for (pattern, replacement) in folds {
            text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: replacement)
        }
        return text.split(whereSeparator: { !$0.isLetter && $0 != "%" }).joined(separator: " ")
    }

    private static let folds: [(NSRegularExpression, String)] = [
        (#"t[o0]t[a4@][l1|!\]i]?(?![a-z])|t[o0][fi]al|totai|tota1|totat"#, "total"),
        (#"(?<=total)(?=qty|quantity|sales|gst|amount|payable)"#, " "),
        (#"(?<![a-z])final(?=total)"#, "final "),
        (#"sub\W*total"#, "subtotal"),
        (#"(?<![a-z])nett(?![a-z])"#, "net"),
        (#"(?<![a-z])amt(?![a-z])"#, "amount"),
        (#"(?<![a-z])(incl|inclusive|inc|included|includes|including|inkl)(?![a-z])"#, "incl"),
        (#"(?<![a-z])(excl|exclusive|exc|excluding|excluded|exkl)(?![a-z])"#, "excl"),
        (#"(?<![a-z])(g5t|6st|65t|gs7|est)(?![a-z])"#, "gst"),
    ].map { (try! NSRegularExpression(pattern: $0.0), $0.1) }

    static let taxWords: Set<String> = ["gst", "vat", "tax", "sst", "mwst", "ust", "tva", "iva", "btw", "hst", "pst", "qst", "cgst", "sgst", "igst"]
    static let moneyWords: Set<String> = [
        "total", "subtotal", "sum", "summe", "gesamt", "gesamtbetrag", "betrag", "montant", "importe", "totale", "amount", "due",
        "balance", "pay", "payable", "paid", "payment", "purchase", "cash", "change", "tendered", "tender", "card", "visa", "mastercard", "master",
        "edc", "credit", "debit", "rounding", "round", "adj", "discount", "disc", "saving", "savings", "deposit", "fee", "fees", "charge",
        "charges", "net", "gross", "grand", "service", "tip", "fare", "rent", "premium", "salary", "opening", "closing", "rabatt",
        "zwischensumme", "bar", "rückgeld", "zu", "zahlen", "refund", "price", "cost", "costs",
    ]

    /// Only the words nearest the amount count: "…is due back on 23 May. A late fee of" is a fee.
    init(_ label: String) {
        let folded = Self.fold(Self.lastClause(label)).split(separator: " ").suffix(6).joined(separator: " ")
        let words = Set(folded.split(separator: " ").map(String.init))
        func has(_ phrase: String) -> Bool { (" " + folded + " ").contains(" " + phrase + " ") }
        let hasTax = !words.isDisjoint(with: Self.taxWords)
        let hasTotal = words.contains("total") || words.contains("summe") || words.contains("gesamtbetrag")

        if words.contains("change") || has("cash back") || words.contains("rückgeld") {
            self = .change
        } else if words.contains("qty") || words.contains("quantity") || words.contains("count") || words.contains("items")
                    || words.contains("pcs") || words.contains("units") {
            self = .count
        } else if words.contains("discount") || words.contains("disc") || words.contains("saving") || words.contains("savings")
                    || words.contains("voucher") || words.contains("rabatt") {
            self = .discount
        } else if words.contains("balance") && (words.contains("before") || words.contains("after") || words.contains("card")
                    || words.contains("remaining")) {
            // A stored-value card's balance ("Balance before RM 1.90", "Balance after RM 31.40"): no part of the bill.
            self = .otherMoney
        } else if words.contains("subtotal") || words.contains("zwischensumme") || words.contains("excl") || words.contains("before")
                    || words.contains("gross") || words.contains("netto") || words.contains("supplies")
                    || (hasTotal && folded.contains("%") && !words.contains("incl") && !hasTax) {
            // "Total 0% supplies": one tax rate's share, not the bill.
            self = .subtotal
        } else if hasTax && (has("in total") || (!hasTotal && !words.contains("incl"))) {
            self = .tax
        } else if hasTotal && hasTax && !words.contains("incl") {
            // "Total GST", "Total tax": the tax, totalled.
            self = .tax
        } else if has("grand total") || has("net total") || has("final total") || has("total payable") || has("amount payable")
                    || words.contains("due") || words.contains("payable") || has("total rounded") || has("rounded total")
                    || has("total after") || (hasTotal && words.contains("incl")) || has("net amount") || has("to pay")
                    || has("zu zahlen") || has("net pay") || words.contains("gesamtbetrag") {
            self = .payable
        } else if words.contains("rounding") || (words.contains("round") && !hasTotal) || (words.contains("adj") && !hasTotal) {
            self = .rounding
        } else if hasTotal || words.contains("sum") || words.contains("montant") || words.contains("importe") || words.contains("betrag") {
            self = .total
        } else if words.contains("cash") || words.contains("tendered") || words.contains("tender") || words.contains("paid")
                    || words.contains("payment") || words.contains("card") || words.contains("visa") || words.contains("master")
                    || words.contains("mastercard") || words.contains("edc") || words.contains("credit") || words.contains("debit")
                    || words.contains("pay") || words.contains("bar") || words.contains("purchase") {
            // "Purchase $ 1.48": what a card slip charged.
            self = .tendered
        } else if hasTax {
            self = .tax
        } else if !words.isDisjoint(with: Self.moneyWords) {
            self = .otherMoney
        } else {
            self = .none
        }
    }

    static let abbreviations: Set<String> = ["incl", "excl", "inc", "exc", "amt", "no", "co", "ltd", "bhd", "sdn", "st", "nr", "tel", "adj", "qty"]

    /// The words after the last full stop that ends a sentence (not the one of "Incl." or "No.").
    static func lastClause(_ label: String) -> String {
        var clause = Substring(label)
        var search = label.startIndex
        while let stop = label.range(of: ". ", range: search..<label.endIndex) {
            let word = label[..<stop.lowerBound].split(whereSeparator: { !$0.isLetter && !$0.isNumber }).last.map { $0.lowercased() } ?? ""
            if !abbreviations.contains(word) && word.count >= 2 { clause = label[stop.upperBound...] }
            search = stop.upperBound
        }
        return String(clause)
    }

    /// Whether the amount is part of the document's money summary (as opposed to an item line).
    var isSummary: Bool { self != .none && self != .count }
}
