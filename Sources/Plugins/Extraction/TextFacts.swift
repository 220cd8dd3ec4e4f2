import Foundation

/// What a text holds at all, before any choosing: every amount and every date in it. The extraction
/// benchmark uses it to tell a miss the OCR caused (the value is nowhere in the text) from one the
/// extraction caused.
public enum TextFacts {
    public static func amounts(in text: String) -> Set<Decimal> {
        Set(AmountExtractor().mentions(in: MoneyText.lines(text)).map(\.value.magnitude))
    }

    /// ISO dates, read both day first and month first.
    public static func dates(in text: String) -> Set<String> {
        Set(DateExtractor(monthFirst: false).extract(from: text).map(\.iso) + DateExtractor(monthFirst: true).extract(from: text).map(\.iso))
    }
}
