import CTesseract

/// Where the text of a page is: the one dense cluster of glyph-sized components, when there is one and it
/// leaves much of the image blank — a small receipt in the middle of a 600-dpi A4 scan, a note on a large
/// photo. Reading the crop instead of the page keeps paper speckle out of the contrast, skew and text-size
/// estimates, and out of Tesseract's layout analysis (which returned nothing at all for such scans).
///
/// Text is dense, speckle is not: glyph centres are counted on a grid of cells a few glyphs tall; cells with
/// two or more are text, neighbouring text cells join, and the cluster is kept only if it holds nearly all the
/// text, so a page with two separate text blocks is never cut down to one of them.
enum TextRegion {
    struct Box: Equatable {
        var x: Int
        var y: Int
        var width: Int
        var height: Int

        var area: Int { width * height }
    }

    /// A crop must leave at least this share of the page out to be worth it.
    static let maximumAreaShare = 0.45
    /// The cluster must hold this share of the page's dense text.
    static let minimumTextShare = 0.95

    /// Glyph-like connected components of a binarised page: 4–200 px tall, not much wider than tall.
    static func glyphs(in binary: LeptonicaImage) -> [Box] {
        guard let boxes = pixConnComp(binary.pointer, nil, 8) else { return [] }
        defer {
            var owned: UnsafeMutablePointer<BOXA>? = boxes
            boxaDestroy(&owned)
        }
        var glyphs: [Box] = []
        let count = Int(boxaGetCount(boxes))
        glyphs.reserveCapacity(count)
        for index in 0..<count {
            var x: Int32 = 0, y: Int32 = 0, w: Int32 = 0, h: Int32 = 0
            boxaGetBoxGeometry(boxes, Int32(index), &x, &y, &w, &h)
            if h >= 4, h <= 200, w >= 1, w <= 3 * h + 8 { glyphs.append(Box(x: Int(x), y: Int(y), width: Int(w), height: Int(h))) }
        }
        return glyphs
    }

    static func medianHeight(_ glyphs: [Box]) -> Double? {
        guard glyphs.count >= 12 else { return nil }
        let heights = glyphs.map(\.height).sorted()
        return Double(heights[heights.count / 2])
    }

    /// The text cluster with a margin, or nil when the text already fills the page (or there is too little to judge).
    static func crop(glyphs: [Box], width: Int, height: Int) -> Box? {
        guard glyphs.count >= 40, let glyphHeight = medianHeight(glyphs) else { return nil }
        let cell = max(8, Int(3 * glyphHeight))
        let columns = (width + cell - 1) / cell, rows = (height + cell - 1) / cell
        var counts = [Int](repeating: 0, count: columns * rows)
        func cellIndex(_ box: Box) -> Int {
            min(rows - 1, (box.y + box.height / 2) / cell) * columns + min(columns - 1, (box.x + box.width / 2) / cell)
        }
        for glyph in glyphs { counts[cellIndex(glyph)] += 1 }
        let dense = counts.map { $0 >= 2 }
        let denseText = zip(counts, dense).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        guard denseText > 0 else { return nil }

        // Clusters of dense cells, joined across one empty cell (word gaps, line spacing).
        var label = [Int](repeating: -1, count: counts.count)
        var best = (label: -1, text: 0)
        for start in counts.indices where dense[start] && label[start] < 0 {
            let current = start
            var stack = [start], text = 0
            label[start] = current
            while let index = stack.popLast() {
                text += counts[index]
                let row = index / columns, column = index % columns
                for dy in -2...2 {
                    for dx in -2...2 {
                        let r = row + dy, c = column + dx
                        guard r >= 0, r < rows, c >= 0, c < columns else { continue }
                        let neighbour = r * columns + c
                        if dense[neighbour], label[neighbour] < 0 {
                            label[neighbour] = current
                            stack.append(neighbour)
                        }
                    }
                }
            }
            if text > best.text { best = (current, text) }
        }
        guard Double(best.text) >= minimumTextShare * Double(denseText) else { return nil }

        var minX = Int.max, minY = Int.max, maxX = 0, maxY = 0
        for glyph in glyphs where label[cellIndex(glyph)] == best.label {
            minX = min(minX, glyph.x)
            minY = min(minY, glyph.y)
            maxX = max(maxX, glyph.x + glyph.width)
            maxY = max(maxY, glyph.y + glyph.height)
        }
        let margin = Int(3 * glyphHeight) + max(width, height) / 100
        let region = Box(x: max(0, minX - margin), y: max(0, minY - margin),
                         width: min(width, maxX + margin) - max(0, minX - margin), height: min(height, maxY + margin) - max(0, minY - margin))
        guard region.width > 0, region.height > 0, Double(region.area) <= maximumAreaShare * Double(width * height) else { return nil }
        return region
    }
}
