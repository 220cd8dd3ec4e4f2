import CTesseract
import Foundation

/// Where the text of a page is, when it leaves much of the image blank — a small receipt in the middle of a
/// 600-dpi A4 scan, a note on a large photo — and whether it stands in columns. Reading the crop instead of the
/// page keeps paper speckle out of the contrast, skew and text-size estimates, and out of Tesseract's layout
/// analysis (which returned nothing at all for such scans).
///
/// Text is dense, speckle is not: glyph centres are counted on a grid of cells a few glyphs tall; cells with
/// two or more are text, and neighbouring text cells join into clusters. The region is every cluster of some
/// size together (a receipt's sections are separate clusters; two text blocks far apart are both kept), and
/// only when those clusters hold nearly all the text: a page is never cut down to part of its text.
enum TextRegion {
    /// A crop must leave at least this share of the page out to be worth it.
    static let maximumAreaShare = 0.45
    /// The clusters kept must hold this share of the page's dense text.
    static let minimumTextShare = 0.9
    /// A cluster with less than this share of the dense text is a speck, not part of the document.
    static let significantClusterShare = 0.02

    /// Glyph-like connected components of a binarised page: 4–200 px tall, not much wider than tall.
    static func glyphs(in binary: LeptonicaImage) -> [OCRBox] {
        guard let boxes = pixConnComp(binary.pointer, nil, 8) else { return [] }
        defer {
            var owned: UnsafeMutablePointer<BOXA>? = boxes
            boxaDestroy(&owned)
        }
        var glyphs: [OCRBox] = []
        let count = Int(boxaGetCount(boxes))
        glyphs.reserveCapacity(count)
        for index in 0..<count {
            var x: Int32 = 0, y: Int32 = 0, w: Int32 = 0, h: Int32 = 0
            boxaGetBoxGeometry(boxes, Int32(index), &x, &y, &w, &h)
            if h >= 4, h <= 200, w >= 1, w <= 3 * h + 8 { glyphs.append(OCRBox(x: Int(x), y: Int(y), width: Int(w), height: Int(h))) }
        }
        return inLines(glyphs)
    }

    /// The glyphs that stand in lines of text: beside another of similar height (half to twice its own) on the same
    /// line, at most `neighbourGap` of the taller one's height away. Lines run across, or down on a page lying
    /// sideways (turned upright later): the direction that keeps more glyphs is the page's. Letters come in words and
    /// lines; dust and paper speckle on a scan lie alone. Counted, the specks of a mostly blank 600-dpi page
    /// outnumbered the letters of the small receipt on it, and its "text" measured 4 px.
    static func inLines(_ glyphs: [OCRBox]) -> [OCRBox] {
        let across = inLines(glyphs, across: true), down = inLines(glyphs, across: false)
        return across.count >= down.count ? across : down
    }

    private static func inLines(_ glyphs: [OCRBox], across: Bool) -> [OCRBox] {
        // Looked at as if the lines ran across: a page lying sideways is measured transposed.
        let boxes = across ? glyphs : glyphs.map { OCRBox(x: $0.y, y: $0.x, width: $0.height, height: $0.width) }
        let bucket = 64
        var buckets: [Int: [Int]] = [:]
        func key(_ column: Int, _ row: Int) -> Int { row &* 1_000_003 &+ column }
        for (index, box) in boxes.enumerated() {
            buckets[key((box.x + box.width / 2) / bucket, (box.y + box.height / 2) / bucket), default: []].append(index)
        }
        return boxes.indices.filter { index in
            let box = boxes[index]
            let reach = Int(neighbourGap * Double(2 * box.height)) + box.width
            let centreX = box.x + box.width / 2, centreY = box.y + box.height / 2
            for row in (centreY - box.height) / bucket...(centreY + box.height) / bucket {
                for column in (centreX - reach) / bucket...(centreX + reach) / bucket {
                    for other in buckets[key(column, row)] ?? [] {
                        let candidate = boxes[other]
                        guard other != index, 2 * candidate.height >= box.height, candidate.height <= 2 * box.height else { continue }
                        let taller = Double(max(box.height, candidate.height))
                        let gap = max(candidate.x - (box.x + box.width), box.x - (candidate.x + candidate.width))
                        let level = Double(abs(candidate.y + candidate.height / 2 - centreY)) <= 0.5 * taller
                        if level, Double(gap) <= neighbourGap * taller { return true }
                    }
                }
            }
            return false
        }.map { glyphs[$0] }
    }

    /// How far apart two glyphs of a line may stand, in heights of the taller (a word space is well under one).
    static let neighbourGap = 1.5

    /// Whether the text stands in columns: somewhere in the middle of the text, a gap at least a glyph wide that
    /// almost no glyph crosses, with a good share of the text on each side. A title across the columns crosses it
    /// (so "almost"); a receipt's header, total and footer lines cross the gap between its item names and prices
    /// far more often, so a receipt reads as lines across.
    static func hasColumnGap(_ glyphs: [OCRBox]) -> Bool {
        guard glyphs.count >= 40, let glyphHeight = medianHeight(glyphs) else { return false }
        let left = glyphs.map(\.x).min() ?? 0, right = glyphs.map { $0.x + $0.width }.max() ?? 0
        let width = right - left
        guard width > 0 else { return false }
        // Glyphs are counted by their vertical extent, so a tall column of text weighs more than a short title.
        var coverage = [Int](repeating: 0, count: width + 1)
        for glyph in glyphs {
            for x in (glyph.x - left)..<min(width, glyph.x - left + glyph.width) { coverage[x] += glyph.height }
        }
        let covered = coverage.filter { $0 > 0 }.sorted()
        guard !covered.isEmpty else { return false }
        let typical = Double(covered[covered.count / 2])
        let gapWidth = max(3, Int(glyphHeight / 2))
        let rightEdges = glyphs.map { $0.x + $0.width }.sorted()
        /// Share of the glyphs wholly left of `x`.
        func shareLeft(of x: Int) -> Double {
            var low = 0, high = rightEdges.count
            while low < high {
                let middle = (low + high) / 2
                if rightEdges[middle] <= x { low = middle + 1 } else { high = middle }
            }
            return Double(low) / Double(rightEdges.count)
        }
        var run = 0
        for x in Int(Double(width) * 0.15)...Int(Double(width) * 0.85) {
            guard Double(coverage[x]) <= columnGapCoverage * typical else {
                run = 0
                continue
            }
            run += 1
            if run == gapWidth, (0.2...0.8).contains(shareLeft(of: left + x - gapWidth / 2)) { return true }
        }
        return false
    }

    /// A column gap is crossed by at most this share of the typical coverage of a text column.
    static let columnGapCoverage = 0.2

    static func medianHeight(_ glyphs: [OCRBox]) -> Double? {
        guard glyphs.count >= 12 else { return nil }
        let heights = glyphs.map(\.height).sorted()
        return Double(heights[heights.count / 2])
    }

    /// The text cluster with a margin, or nil when the text already fills the page (or there is too little to judge).
    static func crop(glyphs: [OCRBox], width: Int, height: Int) -> OCRBox? {
        guard glyphs.count >= 40, let glyphHeight = medianHeight(glyphs) else { return nil }
        let cell = max(8, Int(3 * glyphHeight))
        let columns = (width + cell - 1) / cell, rows = (height + cell - 1) / cell
        var counts = [Int](repeating: 0, count: columns * rows)
        func cellIndex(_ box: OCRBox) -> Int {
            min(rows - 1, (box.y + box.height / 2) / cell) * columns + min(columns - 1, (box.x + box.width / 2) / cell)
        }
        for glyph in glyphs { counts[cellIndex(glyph)] += 1 }
        let dense = counts.map { $0 >= 2 }
        let denseText = zip(counts, dense).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        guard denseText > 0 else { return nil }

        // Clusters of dense cells, joined across a gap of up to two cells (word gaps, line spacing).
        var label = [Int](repeating: -1, count: counts.count)
        var clusterText: [Int: Int] = [:]
        for start in counts.indices where dense[start] && label[start] < 0 {
            var stack = [start], text = 0
            label[start] = start
            while let index = stack.popLast() {
                text += counts[index]
                let row = index / columns, column = index % columns
                for dy in -2...2 {
                    for dx in -2...2 {
                        let r = row + dy, c = column + dx
                        guard r >= 0, r < rows, c >= 0, c < columns else { continue }
                        let neighbour = r * columns + c
                        if dense[neighbour], label[neighbour] < 0 {
                            label[neighbour] = start
                            stack.append(neighbour)
                        }
                    }
                }
            }
            clusterText[start] = text
        }
        // The text is every cluster of some size (a receipt's sections are separate clusters); specks of a few
        // glyphs are left out, but together they may hold only a little of the page's text.
        let significant = Set(clusterText.filter { Double($0.value) >= significantClusterShare * Double(denseText) }.keys)
        let kept = significant.reduce(0) { $0 + (clusterText[$1] ?? 0) }
        guard Double(kept) >= minimumTextShare * Double(denseText) else { return nil }

        var minX = Int.max, minY = Int.max, maxX = 0, maxY = 0
        for glyph in glyphs where significant.contains(label[cellIndex(glyph)]) {
            minX = min(minX, glyph.x)
            minY = min(minY, glyph.y)
            maxX = max(maxX, glyph.x + glyph.width)
            maxY = max(maxY, glyph.y + glyph.height)
        }
        let margin = Int(3 * glyphHeight) + max(width, height) / 100
        let region = OCRBox(x: max(0, minX - margin), y: max(0, minY - margin),
                         width: min(width, maxX + margin) - max(0, minX - margin), height: min(height, maxY + margin) - max(0, minY - margin))
        guard region.width > 0, region.height > 0, Double(region.area) <= maximumAreaShare * Double(width * height) else { return nil }
        return region
    }
}
