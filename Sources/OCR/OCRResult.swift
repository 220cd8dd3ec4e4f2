import Foundation

/// The text of one document and how it was obtained.
public struct OCRResult: Sendable, Codable, Equatable {
    public var format: DocumentFormat
    public var pages: [OCRPage]
    /// Tesseract's hOCR, one document per recognised page, when `OCRConfiguration.keepHOCR` asked for it.
    public var hocr: [String]?
    public var timings: OCRTimings
    /// The document as a PDF with an invisible text layer, when it was asked for and every page was read from an
    /// image (`SearchablePDFWriter`). Not part of the JSON: the pipeline keeps it as a file of its own.
    public var searchablePDF: Data?
    /// SHA-256 of the searchable PDF once the pipeline has stored it (in the blob store, like the documents).
    public var searchablePDFSHA256: String?

    enum CodingKeys: String, CodingKey {
        case format, pages, hocr, timings, searchablePDFSHA256
    }

    public init(format: DocumentFormat, pages: [OCRPage], hocr: [String]? = nil, timings: OCRTimings) {
        self.format = format
        self.pages = pages
        self.hocr = hocr
        self.timings = timings
    }

    /// Pages joined by a blank line, each page's text trimmed.
    public var text: String {
        pages.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
            .joined(separator: "\n\n")
    }

    /// Mean word confidence (0–100) over recognised pages, weighted by their text length;
    /// pages taken from a PDF text layer count as 100.
    public var confidence: Double {
        let weighted = pages.map { (Double(max($0.text.count, 1)), $0.confidence) }
        let total = weighted.reduce(0) { $0 + $1.0 }
        guard total > 0 else { return 0 }
        return weighted.reduce(0) { $0 + $1.0 * $1.1 } / total
    }
}

public struct OCRPage: Sendable, Codable, Equatable {
    public enum Source: String, Sendable, Codable {
        /// Recognised by Tesseract.
        case ocr
        /// Taken from a PDF's own text layer.
        case textLayer = "text_layer"
    }

    public var index: Int
    public var text: String
    public var confidence: Double
    public var source: Source
    public var width: Int
    public var height: Int
    /// What normalisation did to the page, for logs and debugging.
    public var corrections: PageCorrections
    public var milliseconds: Double
    /// The recognised lines in reading order, each with its words, boxes and confidences, in the coordinates of
    /// the page as read (`width` × `height`: after turning, deskewing, cropping and scaling, see `corrections`).
    /// Empty for text-layer pages. Optional in JSON: results stored before word boxes existed have none.
    public var lines: [OCRLine]?
    /// The layout the page was read with (`auto`, `block`, `sparse`).
    public var layout: String?

    public init(index: Int, text: String, confidence: Double, source: Source, width: Int, height: Int,
                corrections: PageCorrections = PageCorrections(), milliseconds: Double, lines: [OCRLine]? = nil, layout: String? = nil) {
        self.index = index
        self.text = text
        self.confidence = confidence
        self.source = source
        self.width = width
        self.height = height
        self.corrections = corrections
        self.milliseconds = milliseconds
        self.lines = lines
        self.layout = layout
    }
}

/// A box in page pixels: left, top, width, height.
public struct OCRBox: Sendable, Codable, Equatable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    var area: Int { width * height }
}

public struct OCRWord: Sendable, Codable, Equatable {
    public var text: String
    public var box: OCRBox
    /// Tesseract's word confidence, 0–100.
    public var confidence: Double

    public init(text: String, box: OCRBox, confidence: Double) {
        self.text = text
        self.box = box
        self.confidence = confidence
    }
}

public struct OCRLine: Sendable, Codable, Equatable {
    public var box: OCRBox
    public var words: [OCRWord]

    public init(box: OCRBox, words: [OCRWord]) {
        self.box = box
        self.words = words
    }

    public var text: String { words.map(\.text).joined(separator: " ") }
}

public struct PageCorrections: Sendable, Codable, Equatable {
    /// Clockwise quarter turns applied (EXIF and detected orientation together).
    public var quarterTurns: Int = 0
    public var mirrored: Bool = false
    /// Degrees of skew removed.
    public var deskewDegrees: Double = 0
    public var scale: Double = 1
    public var contrastStretched: Bool = false
    /// True when the page was read with its strokes thickened (broken or dotted print); absent otherwise.
    public var thickened: Bool?
    /// True when the page was read smoothed (ragged, dithered strokes); absent otherwise.
    public var smoothed: Bool?
    /// How many table cells shaded with a halftone screen were printed again as black on white; absent when none.
    public var screenedCells: Int?
    /// The text region read, `[x, y, width, height]` in the decoded page, when the page was cropped to it.
    public var crop: [Int]?
    /// Median glyph height in pixels of the page as read (after scaling), when there was text enough to measure.
    public var textHeight: Double?
    /// 2 when the text stands in columns (a gap runs down the text region), 1 when lines run across it.
    public var columns: Int?

    public init() {}
}

public struct OCRTimings: Sendable, Codable, Equatable {
    /// Time spent waiting for a free engine.
    public var queueMilliseconds: Double
    /// Decoding, PDF rendering and normalisation.
    public var prepareMilliseconds: Double
    /// Inside Tesseract.
    public var recognizeMilliseconds: Double
    public var totalMilliseconds: Double
    /// Writing the searchable PDF (page images compressed, text laid over them, and any page read again for
    /// it), when one was asked for; also outside `prepareMilliseconds`.
    public var searchablePDFMilliseconds: Double?

    public init(queueMilliseconds: Double = 0, prepareMilliseconds: Double = 0, recognizeMilliseconds: Double = 0, totalMilliseconds: Double = 0) {
        self.queueMilliseconds = queueMilliseconds
        self.prepareMilliseconds = prepareMilliseconds
        self.recognizeMilliseconds = recognizeMilliseconds
        self.totalMilliseconds = totalMilliseconds
    }
}

extension OCRResult {
    /// The recognised pages as one hOCR document (what `tesseract FILE out hocr` writes), or nil when hOCR was not
    /// kept. Boxes are in the coordinates of each page as read, like `OCRPage.lines`.
    public var hocrDocument: String? {
        guard let hocr else { return nil }
        let escapedVersion = OCREnginePool.tesseractVersion.replacingOccurrences(of: "'", with: "")
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
            "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
        <html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
         <head>
          <title></title>
          <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
          <meta name='ocr-system' content='tesseract \(escapedVersion)' />
          <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>
         </head>
         <body>
        \(hocr.joined())
         </body>
        </html>

        """
    }
}
