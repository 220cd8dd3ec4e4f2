/// The EXIF orientation tag (1–8) of a JPEG, which phones use instead of rotating the pixels.
enum ExifOrientation {
    /// Quarter turns clockwise and a left-right mirror that bring the stored pixels upright.
    struct Correction: Equatable {
        var quarterTurns: Int
        var mirror: Bool
    }

    static func correction(for tag: Int) -> Correction {
        switch tag {
        case 2: Correction(quarterTurns: 0, mirror: true)
        case 3: Correction(quarterTurns: 2, mirror: false)
        case 4: Correction(quarterTurns: 2, mirror: true)
        case 5: Correction(quarterTurns: 1, mirror: true)
        case 6: Correction(quarterTurns: 1, mirror: false)
        case 7: Correction(quarterTurns: 3, mirror: true)
        case 8: Correction(quarterTurns: 3, mirror: false)
        default: Correction(quarterTurns: 0, mirror: false)
        }
    }

    /// Reads the tag from the JPEG's APP1 Exif segment; nil when there is none or it is malformed.
    /// Every offset is bounds-checked: the bytes come from strangers.
    static func tag(inJPEG bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        func u8(_ i: Int) -> Int? { i >= 0 && i < count ? Int(bytes[i]) : nil }
        func u16be(_ i: Int) -> Int? {
            guard let a = u8(i), let b = u8(i + 1) else { return nil }
            return a << 8 | b
        }
        guard u8(0) == 0xFF, u8(1) == 0xD8 else { return nil }
        var offset = 2
        // Walk the marker segments up to the start of scan.
        while offset + 4 <= count {
            guard u8(offset) == 0xFF, let marker = u8(offset + 1) else { return nil }
            if marker == 0xFF { offset += 1; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }
            guard let length = u16be(offset + 2), length >= 2 else { return nil }
            let segment = offset + 4
            if marker == 0xE1, length >= 16,
               u8(segment) == 0x45, u8(segment + 1) == 0x78, u8(segment + 2) == 0x69, u8(segment + 3) == 0x66,
               u8(segment + 4) == 0, u8(segment + 5) == 0 {
                return tiffOrientation(bytes, start: segment + 6, end: min(count, offset + 2 + length))
            }
            offset += 2 + length
        }
        return nil
    }

    private static func tiffOrientation(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) -> Int? {
        func u8(_ i: Int) -> Int? { i >= start && i < end ? Int(bytes[i]) : nil }
        guard let b0 = u8(start), let b1 = u8(start + 1) else { return nil }
        let little: Bool
        switch (b0, b1) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ i: Int) -> Int? {
            guard let a = u8(i), let b = u8(i + 1) else { return nil }
            return little ? (b << 8 | a) : (a << 8 | b)
        }
        func u32(_ i: Int) -> Int? {
            guard let lo = u16(little ? i : i + 2), let hi = u16(little ? i + 2 : i) else { return nil }
            return hi << 16 | lo
        }
        guard u16(start + 2) == 42, let ifd = u32(start + 4) else { return nil }
        let directory = start + ifd
        guard let entries = u16(directory), entries < 1000 else { return nil }
        for index in 0..<entries {
            let entry = directory + 2 + index * 12
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard let value = u16(entry + 8), (1...8).contains(value) else { return nil }
                return value
            }
        }
        return nil
    }
}
