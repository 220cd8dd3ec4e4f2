import CTesseract

/// Where the paper is in an image whose surroundings are darker than the paper: a receipt scanned with the
/// scanner lid open (black bands beside it), a receipt or page photographed on a table, in a hand or on a
/// cloth. Tesseract thresholds the whole image at once, so a large dark surround pulls the threshold down and
/// the grey paper and its print end up on the same side: such images read as almost nothing, by us and by the
/// CLI alike. Reading the paper alone fixes the threshold, and the text-size and skew estimates that follow.
///
/// The paper is the largest bright connected area of a small copy of the image (Otsu split), after an
/// erosion that cuts thin bright bridges to the surroundings. It is cropped to only when it is clearly a
/// sheet on a darker surround: a solid area (it fills most of its bounding box), large enough to be the
/// document, leaving a good part of the image out, with what lies outside it mostly dark. A white page with a
/// dark picture or table on it fails the last test (the white outside the largest area is not dark).
enum PaperRegion {
    /// The small copy's longer side, in pixels.
    static let workingSize = 400
    /// The two classes' means must differ by this much for a background to exist at all.
    static let minimumContrast = 40.0
    static let minimumAreaShare = 0.08
    static let maximumBoxShare = 0.92
    static let minimumFill = 0.55
    static let minimumDarkOutside = 0.75
    /// Kept around the paper on each side, as a share of its size.
    static let marginShare = 0.04

    static func find(in page: LeptonicaImage) -> OCRBox? {
        let longer = max(page.width, page.height)
        guard longer >= 64, page.depth == 8 else { return nil }
        let factor = min(1, Float(workingSize) / Float(longer))
        guard let small = factor < 1 ? page.transformed({ pixScaleAreaMap($0, factor, factor) }) : page else { return nil }
        let grid = GreyGrid(small)
        guard let split = otsu(grid.histogram, total: grid.pixels.count),
              let paper = grid.largestArea(grid.brightInterior(above: split)),
              isSheet(paper, in: grid, split: split) else { return nil }

        // Back to full size, with a margin: a shaded end of the paper (a fold, a hand's shadow) can fall on the
        // dark side of the split, and cutting text off costs far more than keeping a strip of table.
        let scale = Double(page.width) / Double(grid.width)
        let marginX = 2 + Int(marginShare * Double(paper.width)), marginY = 2 + Int(marginShare * Double(paper.height))
        let x0 = max(0, Int(Double(paper.minX - marginX) * scale)), y0 = max(0, Int(Double(paper.minY - marginY) * scale))
        let x1 = min(page.width, Int(Double(paper.maxX + 1 + marginX) * scale))
        let y1 = min(page.height, Int(Double(paper.maxY + 1 + marginY) * scale))
        guard x1 > x0, y1 > y0 else { return nil }
        return OCRBox(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// A solid area, large enough to be the document, leaving a good part of the image out, which is mostly dark.
    private static func isSheet(_ area: Area, in grid: GreyGrid, split: Int) -> Bool {
        let total = Double(grid.pixels.count)
        let boxArea = Double(area.width * area.height)
        guard Double(area.count) >= minimumAreaShare * total, boxArea <= maximumBoxShare * total,
              Double(area.count) >= minimumFill * boxArea else { return false }
        var outside = 0, darkOutside = 0
        for y in 0..<grid.height {
            for x in 0..<grid.width where !area.contains(x: x, y: y) {
                outside += 1
                if Int(grid.pixels[y * grid.width + x]) <= split { darkOutside += 1 }
            }
        }
        return outside > 0 && Double(darkOutside) >= minimumDarkOutside * Double(outside)
    }

    /// A connected area of the small copy: its pixel count and bounding box.
    struct Area {
        var count = 0, minX = Int.max, minY = Int.max, maxX = 0, maxY = 0
        var width: Int { maxX - minX + 1 }
        var height: Int { maxY - minY + 1 }
        func contains(x: Int, y: Int) -> Bool { x >= minX && x <= maxX && y >= minY && y <= maxY }
        mutating func add(x: Int, y: Int) {
            count += 1
            minX = min(minX, x); maxX = max(maxX, x)
            minY = min(minY, y); maxY = max(maxY, y)
        }
    }

    /// The small copy's grey levels, row by row, with their histogram.
    struct GreyGrid {
        let width: Int, height: Int
        private(set) var pixels: [UInt8]
        private(set) var histogram = [Int](repeating: 0, count: 256)

        init(_ image: LeptonicaImage) {
            width = image.width
            height = image.height
            pixels = [UInt8](repeating: 0, count: width * height)
            for y in 0..<height {
                for x in 0..<width {
                    var value: UInt32 = 0
                    pixGetPixel(image.pointer, Int32(x), Int32(y), &value)
                    let level = UInt8(min(255, value))
                    pixels[y * width + x] = level
                    histogram[Int(level)] += 1
                }
            }
        }

        /// Bright pixels whose 3×3 neighbourhood is bright too: thin bright bridges (a cable, a table's edge)
        /// no longer join the paper to the rest of the image.
        func brightInterior(above split: Int) -> [Bool] {
            var bright = [Bool](repeating: false, count: width * height)
            guard width > 2, height > 2 else { return bright }
            for y in 1..<(height - 1) {
                for x in 1..<(width - 1) {
                    var all = true
                    for dy in -1...1 where all {
                        for dx in -1...1 where Int(pixels[(y + dy) * width + x + dx]) <= split { all = false; break }
                    }
                    bright[y * width + x] = all
                }
            }
            return bright
        }

        /// The largest 4-connected area of `mask`, or nil when it is empty.
        func largestArea(_ mask: [Bool]) -> Area? {
            var seen = [Bool](repeating: false, count: mask.count)
            var best = Area()
            var stack: [Int] = []
            for start in mask.indices where mask[start] && !seen[start] {
                seen[start] = true
                stack.append(start)
                var area = Area()
                while let index = stack.popLast() {
                    area.add(x: index % width, y: index / width)
                    for neighbour in [index - 1, index + 1, index - width, index + width]
                    where neighbour >= 0 && neighbour < mask.count && mask[neighbour] && !seen[neighbour] {
                        seen[neighbour] = true
                        stack.append(neighbour)
                    }
                }
                if area.count > best.count { best = area }
            }
            return best.count > 0 ? best : nil
        }
    }

    /// Otsu's threshold, or nil when the two classes are too close to be paper and surround.
    private static func otsu(_ histogram: [Int], total: Int) -> Int? {
        let sum = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset * $1.element) }
        var weightBelow = 0.0, sumBelow = 0.0, best = (variance: -1.0, split: 0, gap: 0.0)
        for level in 0..<255 {
            weightBelow += Double(histogram[level])
            sumBelow += Double(level * histogram[level])
            let weightAbove = Double(total) - weightBelow
            guard weightBelow > 0, weightAbove > 0 else { continue }
            let meanBelow = sumBelow / weightBelow, meanAbove = (sum - sumBelow) / weightAbove
            let variance = weightBelow * weightAbove * (meanAbove - meanBelow) * (meanAbove - meanBelow)
            if variance > best.variance { best = (variance, level, meanAbove - meanBelow) }
        }
        return best.gap >= minimumContrast ? best.split : nil
    }
}
