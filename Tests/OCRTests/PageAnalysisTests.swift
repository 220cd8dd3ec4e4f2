import CTesseract
import Foundation
@testable import OCR
import Testing

/// The page measurements the normaliser and the layout choice rest on, on pages drawn here, so they are checked
/// on every machine (the corpus tests that show what they buy need `../shared/corpora`).
@Suite("Page analysis")
struct PageAnalysisTests {
    /// An 8-bit page of `background` with filled rectangles.
    static func page(width: Int, height: Int, background: UInt32, rectangles: [(OCRBox, UInt32)] = []) throws -> LeptonicaImage {
        let page = try #require(LeptonicaImage(taking: pixCreate(Int32(width), Int32(height), 8)))
        pixSetAllArbitrary(page.pointer, background)
        for (rectangle, value) in rectangles {
            var box = boxCreate(Int32(rectangle.x), Int32(rectangle.y), Int32(rectangle.width), Int32(rectangle.height))
            pixSetInRectArbitrary(page.pointer, box, value)
            boxDestroy(&box)
        }
        return page
    }

    @Test("a sheet on a dark surround is found, with a small margin")
    func paperOnDarkSurround() throws {
        let sheet = OCRBox(x: 500, y: 200, width: 600, height: 1000)
        let photo = try Self.page(width: 1600, height: 1400, background: 40, rectangles: [(sheet, 225)])
        let found = try #require(PaperRegion.find(in: photo))
        #expect(found.x <= sheet.x && found.y <= sheet.y)
        #expect(found.x + found.width >= sheet.x + sheet.width && found.y + found.height >= sheet.y + sheet.height)
        // The margin is a few per cent, not the surround.
        #expect(found.width <= sheet.width + sheet.width / 5 && found.height <= sheet.height + sheet.height / 5)
    }

    @Test("a white page, and a white page with a dark picture on it, are not cropped")
    func noPaperCrop() throws {
        #expect(PaperRegion.find(in: try Self.page(width: 1200, height: 1600, background: 235)) == nil)
        // The largest bright area is the top half; what lies outside it is bright paper, not a surround.
        let picture = try Self.page(width: 1200, height: 1600, background: 235,
                                    rectangles: [(OCRBox(x: 0, y: 700, width: 1200, height: 300), 30)])
        #expect(PaperRegion.find(in: picture) == nil)
    }

    /// A halftone screen (2×2 dark dots every 4 px, as a printer shades a table cell) with a 6-px dark stroke across
    /// it, and beside it a flat grey fill of the same mean with a stroke: the screen is found and printed again as
    /// the stroke alone on white; the flat fill (a shadow, a chart's grey bar) is no screen and stays as it was.
    @Test("a screened cell is found and becomes its ink on white; a flat grey fill is left alone")
    func screenedCell() throws {
        let cell = OCRBox(x: 100, y: 60, width: 240, height: 160), fill = OCRBox(x: 420, y: 60, width: 240, height: 160)
        var rectangles: [(OCRBox, UInt32)] = [(fill, 190)]
        for y in stride(from: cell.y, to: cell.y + cell.height, by: 4) {
            for x in stride(from: cell.x, to: cell.x + cell.width, by: 4) {
                rectangles.append((OCRBox(x: x, y: y, width: 2, height: 2), 40))
            }
        }
        rectangles += [(OCRBox(x: cell.x + 40, y: cell.y + 70, width: 160, height: 6), 10),
                       (OCRBox(x: fill.x + 40, y: fill.y + 70, width: 160, height: 6), 10)]
        let page = try Self.page(width: 760, height: 300, background: 250, rectangles: rectangles)
        let (cleaned, cells) = try #require(ScreenedCells.clean(page))
        #expect(cells == 1)
        func value(_ x: Int, _ y: Int, in image: LeptonicaImage) -> UInt32 {
            var value: UInt32 = 0
            pixGetPixel(image.pointer, Int32(x), Int32(y), &value)
            return value
        }
        // In the cell: a dot is now paper, the stroke still ink. Outside it nothing changed.
        #expect(value(cell.x + 8, cell.y + 8, in: page) == 40 && value(cell.x + 8, cell.y + 8, in: cleaned) == 255)
        #expect(value(cell.x + 100, cell.y + 72, in: cleaned) == 0)
        #expect(value(fill.x + 8, fill.y + 8, in: cleaned) == 190 && value(fill.x + 100, fill.y + 72, in: cleaned) == 10)
        // A page with only the flat fill has no screen.
        #expect(ScreenedCells.clean(try Self.page(width: 760, height: 300, background: 250, rectangles: [(fill, 190)])) == nil)
    }

    /// Glyph boxes for `lines` lines of `perLine` 20-px glyphs starting at (x, y), in words of five; each line
    /// starts a little further in, as real lines do, so word gaps do not line up into a column.
    static func text(x: Int, y: Int, lines: Int, perLine: Int) -> [OCRBox] {
        (0..<lines).flatMap { line in
            (0..<perLine).map { index in
                OCRBox(x: x + line * 5 % 12 + index * 14 + index / 5 * 10, y: y + line * 32, width: 11, height: 20)
            }
        }
    }

    @Test("a small block of text on a large blank page is the region read; text all over the page is not cropped")
    func textRegion() throws {
        let receipt = Self.text(x: 2000, y: 2500, lines: 30, perLine: 30)
        let speck = [OCRBox(x: 100, y: 100, width: 6, height: 6), OCRBox(x: 4500, y: 6500, width: 5, height: 7)]
        let region = try #require(TextRegion.crop(glyphs: receipt + speck, width: 4961, height: 7016))
        #expect(region.x <= 2000 && region.y <= 2500)
        #expect(region.x + region.width >= 2000 + 30 * 14 && region.y + region.height >= 2500 + 30 * 32)
        #expect(region.area < 4961 * 7016 / 10)

        let page = Self.text(x: 100, y: 100, lines: 60, perLine: 100)
        #expect(TextRegion.crop(glyphs: page, width: 1700, height: 2200) == nil)
        // Two blocks far apart are both kept: a page is never cut down to part of its text.
        let twoBlocks = Self.text(x: 100, y: 100, lines: 10, perLine: 30) + Self.text(x: 3500, y: 5500, lines: 10, perLine: 30)
        let both = TextRegion.crop(glyphs: twoBlocks, width: 4961, height: 7016)
        #expect(both == nil || (both!.x <= 100 && both!.x + both!.width >= 3500 + 30 * 14), "\(String(describing: both))")
    }

    @Test("glyphs count where they stand in lines, across or down; lone specks do not, however many")
    func glyphsInLines() {
        let receipt = Self.text(x: 2000, y: 2500, lines: 30, perLine: 30)
        // Dust over a blank A4 scan: three times as many specks as letters, each alone, 4-6 px.
        let dust = (0..<2700).map { OCRBox(x: ($0 * 977) % 4900, y: ($0 * 7919) % 7000, width: 4 + $0 % 3, height: 4 + $0 % 3) }
            .filter { !($0.x >= 1950 && $0.x <= 2500 && $0.y >= 2450 && $0.y <= 3500) }
        let kept = TextRegion.inLines(receipt + dust)
        #expect(kept.count >= receipt.count && kept.count < receipt.count + dust.count / 20, "\(kept.count) kept")
        #expect(TextRegion.medianHeight(kept) == 20)
        // The same page lying sideways: its lines run down, and its letters are kept.
        let sideways = receipt.map { OCRBox(x: $0.y, y: $0.x, width: $0.height, height: $0.width) }
        #expect(TextRegion.inLines(sideways + dust).count >= receipt.count)
        // A page of text loses nothing.
        let page = Self.text(x: 100, y: 100, lines: 60, perLine: 100)
        #expect(TextRegion.inLines(page).count == page.count)
    }

    @Test("a high-resolution scan is measured on a ~200-dpi copy; ordinary pages and phone photos at their own size")
    func analysisReduction() {
        #expect(PageNormalizer.analysisReduction(width: 4961, height: 7016) > 3)
        #expect(PageNormalizer.analysisReduction(width: 2550, height: 3300) == 1)
        #expect(PageNormalizer.analysisReduction(width: 4000, height: 3000) == 1)
    }

    @Test("two columns of text have a column gap; lines running across, with a ragged price column, do not")
    func columns() {
        let columns = Self.text(x: 100, y: 100, lines: 50, perLine: 40) + Self.text(x: 800, y: 100, lines: 50, perLine: 40)
        #expect(TextRegion.hasColumnGap(columns))
        // A receipt: names on the left, prices on the right, and header/total lines across the gap between them.
        let items = Self.text(x: 100, y: 400, lines: 20, perLine: 15) + Self.text(x: 600, y: 400, lines: 20, perLine: 6)
        let across = Self.text(x: 100, y: 100, lines: 8, perLine: 45) + Self.text(x: 100, y: 1100, lines: 8, perLine: 45)
        #expect(!TextRegion.hasColumnGap(items + across))
    }

    @Test("a plausible dpi is the file's, times the upscaling; a guessed one is 300 however much the page was enlarged")
    func resolution() {
        var corrections = PageCorrections()
        corrections.scale = 2
        #expect(DocumentReader.resolution(declared: 200, corrections: corrections) == 400)
        corrections.scale = 3.4
        #expect(DocumentReader.resolution(declared: 96, corrections: corrections) == 300)
        #expect(DocumentReader.resolution(declared: 72, corrections: PageCorrections()) == 300)
        #expect(DocumentReader.resolution(declared: 0, corrections: PageCorrections()) == 300)
    }

    @Test("word recall is order-free, counts each word once, ignores end punctuation, folds case when asked")
    func wordRecall() {
        #expect(TextAccuracy.wordRecall(recognized: "total: 8.25 TOTAL", reference: "TOTAL 8.25") == 1)
        #expect(TextAccuracy.wordRecall(recognized: "Total 8.25", reference: "TOTAL TOTAL 8.25") == 1.0 / 3)
        #expect(TextAccuracy.wordRecall(recognized: "Total 8.25", reference: "TOTAL TOTAL 8.25", foldCase: true) == 2.0 / 3)
        #expect(TextAccuracy.wordRecall(recognized: "(Thank you!)", reference: "Thank you") == 1)
        #expect(TextAccuracy.wordRecall(recognized: "", reference: "a b c d") == 0)
    }

    /// The scribe benchmark's own rule (scribe.js `compareOCR`, `ignorePunct`): punctuation is ignored anywhere
    /// in a word except next to a digit, where it is part of the figure.
    @Test("the scribe rule: an apostrophe is ignored inside a word, punctuation next to a digit is not")
    func scribePunctuation() {
        func words(_ text: String) -> [String] { TextAccuracy.words(text, foldCase: false, punctuation: .ignoredAwayFromDigits) }
        #expect(words("don’t CZ's q/q Sep-12 (75.9) $2.03 -2% So--this 'quoted'") ==
                ["dont", "CZs", "qq", "Sep-12", "(75.9)", "$2.03", "-2%", "So-this", "quoted"])
        #expect(TextAccuracy.wordRecall(recognized: "I don't know", reference: "I don’t know", punctuation: .ignoredAwayFromDigits) == 1)
        #expect(TextAccuracy.wordRecall(recognized: "75.9", reference: "(75.9)", punctuation: .ignoredAwayFromDigits) == 0)
        #expect(TextAccuracy.wordRecall(recognized: "75.9", reference: "(75.9)") == 1)
    }

    @Test("character error rate without whitespace judges the characters only")
    func characterErrorRateIgnoringSpaces() {
        #expect(TextAccuracy.characterErrorRateIgnoringSpaces(recognized: "Welcome to Chick-fil-A", reference: "WelcometoChick-fil-A") == 0)
        #expect(TextAccuracy.characterErrorRateIgnoringSpaces(recognized: "Welcome to Chick", reference: "WelcometoChick-fil-A") > 0.2)
        #expect(TextAccuracy.characterErrorRateIgnoringSpaces(recognized: "x", reference: " ") == 1)
    }
}
