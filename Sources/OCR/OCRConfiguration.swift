import Environment
import Foundation

/// Everything the OCR engine pool needs; built from `OCR_*` variables at the composition root.
public struct OCRConfiguration: Sendable, Equatable {
    /// Tesseract languages, `+`-joined (`eng`, `eng+deu`).
    public var languages: String
    /// Parallel engines, each on its own thread.
    public var workers: Int
    /// Folder holding `*.traineddata`; nil lets Tesseract use its compiled-in default.
    public var tessdataPath: String?
    public var limits: OCRLimits
    /// How a page's text is segmented into blocks and lines; `.choose` decides per page.
    public var layout: PageLayout
    /// Leptonica normalisation before recognition (deskew, orientation, contrast, upscaling).
    public var normalize: Bool
    /// Keep Tesseract's hOCR of each page in the result (`botgateway ocr --hocr`).
    public var keepHOCR = false

    public init(
        languages: String = "eng",
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        tessdataPath: String? = OCRConfiguration.defaultTessdataPath(),
        limits: OCRLimits = OCRLimits(),
        layout: PageLayout = .choose,
        normalize: Bool = true
    ) {
        self.languages = languages
        self.workers = max(1, workers)
        self.tessdataPath = tessdataPath
        self.limits = limits
        self.layout = layout
        self.normalize = normalize
    }

    /// `TESSDATA_PREFIX` if set, else the first Debian/Ubuntu location that exists.
    public static func defaultTessdataPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let prefix = EnvironmentVariables(environment).value("TESSDATA_PREFIX") { return prefix }
        let candidates = [
            "/usr/share/tesseract-ocr/5/tessdata",
            "/usr/share/tesseract-ocr/4.00/tessdata",
            "/usr/share/tessdata",
            "/usr/local/share/tessdata",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Reads `OCR_LANGUAGES` and `OCR_WORKERS`; a malformed value names its variable.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> OCRConfiguration {
        let variables = EnvironmentVariables(environment)
        var configuration = OCRConfiguration(tessdataPath: defaultTessdataPath(environment: environment))
        if let languages = variables.value("OCR_LANGUAGES") {
            let valid = languages.split(separator: "+", omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            }
            guard valid else {
                throw ConfigurationError(variable: "OCR_LANGUAGES", problem: "expected Tesseract language codes joined by '+', like eng+deu")
            }
            configuration.languages = languages
        }
        if let workers = variables.value("OCR_WORKERS") {
            guard let count = Int(workers), (1...64).contains(count) else {
                throw ConfigurationError(variable: "OCR_WORKERS", problem: "expected a whole number from 1 to 64")
            }
            configuration.workers = count
        }
        return configuration
    }
}

/// Tesseract's page segmentation, per page.
public enum PageLayout: String, Sendable, Equatable, CaseIterable {
    /// Per page, from the page's shape, its columns and how much the automatic layout read (`DocumentReader.read`).
    case choose
    /// Tesseract's automatic layout (mode 3): columns and blocks found by the engine.
    case auto
    /// One uniform block of text (mode 6): every line across the page, in order.
    case block
    /// Sparse text (mode 11): as much text as possible, in no particular order.
    case sparse

    var fixedMode: Int32? {
        switch self {
        case .choose: nil
        case .auto: 3
        case .block: 6
        case .sparse: 11
        }
    }
}

/// Refusals that happen before any pixel is decoded.
public struct OCRLimits: Sendable, Equatable {
    public var maxBytes: Int
    public var maxPixels: Int
    public var maxPages: Int
    /// Wall-clock budget for one document, PDF rendering included.
    public var timeoutSeconds: Double

    public init(maxBytes: Int = 100_000_000, maxPixels: Int = 60_000_000, maxPages: Int = 100, timeoutSeconds: Double = 300) {
        self.maxBytes = maxBytes
        self.maxPixels = maxPixels
        self.maxPages = maxPages
        self.timeoutSeconds = timeoutSeconds
    }
}
