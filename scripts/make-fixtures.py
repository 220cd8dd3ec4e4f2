#!/usr/bin/env python3
"""Generates fixtures/: document images with ground truth, and the bad inputs.

The outputs are committed, so tests never depend on Pillow or on the fonts installed;
run this only to change the corpus:  pip install pillow && python3 scripts/make-fixtures.py
Needs fonts-dejavu-core and (for the mixed-compression TIFF) libtiff-tools.
Everything random is seeded, so a re-run on the same Pillow gives the same files.
"""
import io
import os
import random
import shutil
import struct
import subprocess
import tempfile
import zlib

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
GT = os.path.join(ROOT, "ground-truth")
BAD = os.path.join(ROOT, "bad")
FORMATS = os.path.join(ROOT, "formats")
FONTS = "/usr/share/fonts/truetype/dejavu"

SANS = os.path.join(FONTS, "DejaVuSans.ttf")
SANS_BOLD = os.path.join(FONTS, "DejaVuSans-Bold.ttf")
SERIF = os.path.join(FONTS, "DejaVuSerif.ttf")
MONO = os.path.join(FONTS, "DejaVuSansMono.ttf")

INVOICE = [
    ("ACME Office Supplies Ltd.", SANS_BOLD, 44),
    ("12 Market Street, Springfield, IL 62701", SANS, 28),
    ("", SANS, 28),
    ("INVOICE", SANS_BOLD, 56),
    ("Invoice No: INV-2024-0153", SANS, 30),
    ("Invoice Date: 14 March 2024", SANS, 30),
    ("Due Date: 2024-04-13", SANS, 30),
    ("Bill To: Northwind Traders Inc., 500 Lake Avenue, Chicago", SANS, 30),
    ("", SANS, 30),
    ("Printer paper A4, 5 boxes at 24.99 = 124.95", SANS, 30),
    ("Toner cartridge black, 2 at 89.50 = 179.00", SANS, 30),
    ("Heavy duty stapler, 1 at 32.40 = 32.40", SANS, 30),
    ("", SANS, 30),
    ("Subtotal: USD 336.35", SANS, 30),
    ("Sales tax 8%: USD 26.91", SANS, 30),
    ("Total Due: USD 363.26", SANS_BOLD, 34),
    ("", SANS, 30),
    ("Payment by bank transfer within 30 days.", SANS, 28),
    ("IBAN DE89 3704 0044 0532 0130 00", SANS, 28),
]

RECEIPT = [
    ("CORNER CAFE", MONO, 40),
    ("221 Baker Street", MONO, 28),
    ("London NW1 6XE", MONO, 28),
    ("", MONO, 28),
    ("Date: 03/02/2024  12:41", MONO, 28),
    ("Cappuccino          3.20", MONO, 28),
    ("Croissant           2.10", MONO, 28),
    ("Orange juice        2.95", MONO, 28),
    ("", MONO, 28),
    ("TOTAL GBP           8.25", MONO, 32),
    ("VISA **** 4417", MONO, 28),
    ("Thank you for your visit!", MONO, 28),
]

LETTER = [
    ("Jane Doe", SERIF, 30),
    ("45 Elm Road", SERIF, 30),
    ("Cambridge CB2 1TN", SERIF, 30),
    ("", SERIF, 30),
    ("5 January 2024", SERIF, 30),
    ("", SERIF, 30),
    ("Dear Mr. Smith,", SERIF, 30),
    ("", SERIF, 30),
    ("Thank you for your letter of 18 December 2023 about the", SERIF, 30),
    ("renewal of my home insurance policy. I would like to keep", SERIF, 30),
    ("the current cover and to pay the yearly premium of", SERIF, 30),
    ("GBP 412.00 by direct debit from my account.", SERIF, 30),
    ("", SERIF, 30),
    ("Please send the new certificate to the address above", SERIF, 30),
    ("before the policy ends on 31 January 2024.", SERIF, 30),
    ("", SERIF, 30),
    ("Yours sincerely,", SERIF, 30),
    ("Jane Doe", SERIF, 30),
]

CONTRACT_P1 = [
    ("RENTAL AGREEMENT", SANS_BOLD, 48),
    ("", SANS, 30),
    ("This agreement is made on 1 June 2024 between", SANS, 30),
    ("Greenfield Properties LLC (the Landlord) and", SANS, 30),
    ("Maria Garcia (the Tenant).", SANS, 30),
    ("", SANS, 30),
    ("1. The Landlord rents to the Tenant the flat at", SANS, 30),
    ("   88 River Lane, Apartment 4B, Portland, OR 97201.", SANS, 30),
    ("2. The term starts on 2024-07-01 and ends on 2025-06-30.", SANS, 30),
    ("3. The monthly rent is USD 1,850.00, due on the first day", SANS, 30),
    ("   of each month.", SANS, 30),
]

CONTRACT_P2 = [
    ("4. The security deposit is USD 3,700.00.", SANS, 30),
    ("5. The Tenant shall not sublet the flat without written", SANS, 30),
    ("   consent of the Landlord.", SANS, 30),
    ("6. Either party may end this agreement with sixty days", SANS, 30),
    ("   written notice.", SANS, 30),
    ("", SANS, 30),
    ("Signed: Greenfield Properties LLC", SANS, 30),
    ("Signed: Maria Garcia", SANS, 30),
]

STATEMENT_P1 = [
    ("First Harbor Bank", SANS_BOLD, 44),
    ("Account Statement", SANS_BOLD, 38),
    ("", SANS, 30),
    ("Account holder: Thomas Becker", SANS, 30),
    ("Account number: 4410 2298 7731", SANS, 30),
    ("Statement period: 01.04.2024 to 30.04.2024", SANS, 30),
    ("", SANS, 30),
    ("Opening balance: EUR 2,340.18", SANS, 30),
    ("03.04.2024 Salary April +3,120.00", SANS, 30),
    ("05.04.2024 Rent payment -1,150.00", SANS, 30),
    ("12.04.2024 Supermarket -86.45", SANS, 30),
]

STATEMENT_P2 = [
    ("18.04.2024 Electricity -74.30", SANS, 30),
    ("22.04.2024 Restaurant -58.20", SANS, 30),
    ("29.04.2024 Savings transfer -500.00", SANS, 30),
    ("", SANS, 30),
    ("Closing balance: EUR 3,591.23", SANS_BOLD, 32),
    ("", SANS, 30),
    ("Questions? Call 0800 555 0199.", SANS, 28),
]

UTILITY_BILL = [
    "City Power and Light",
    "Electricity Bill",
    "Customer: Anna Novak",
    "Customer number: 77-501-334",
    "Billing period: 1 January 2024 to 31 January 2024",
    "Consumption: 412 kWh",
    "Energy charge: EUR 61.80",
    "Network fee: EUR 12.50",
    "Amount due: EUR 74.30",
    "Please pay by 28.02.2024.",
]

DELIVERY_NOTE = [
    ("DELIVERY NOTE", SANS_BOLD, 46),
    ("Swift Logistics GmbH", SANS, 32),
    ("", SANS, 30),
    ("Delivery date: 2024-05-17", SANS, 32),
    ("Order number: SO-88412", SANS, 32),
    ("Recipient: Blue Lake Bakery", SANS, 32),
    ("", SANS, 30),
    ("12 sacks of wheat flour", SANS, 32),
    ("4 crates of butter", SANS, 32),
    ("2 boxes of baking paper", SANS, 32),
    ("", SANS, 30),
    ("Received in good order.", SANS, 32),
]

PAYSLIP = [
    ("PAYSLIP", SANS_BOLD, 46),
    ("Employer: Bright Future Software Inc.", SANS, 30),
    ("Employee: David Chen", SANS, 30),
    ("Pay date: 2024-02-29", SANS, 30),
    ("", SANS, 30),
    ("Gross pay: USD 5,400.00", SANS, 30),
    ("Income tax: USD 1,026.00", SANS, 30),
    ("Social security: USD 334.80", SANS, 30),
    ("Net pay: USD 4,039.20", SANS_BOLD, 32),
]

CERTIFICATE = [
    ("CERTIFICATE OF INSURANCE", SANS_BOLD, 44),
    ("", SANS, 30),
    ("Policy number: HX-2291-0047", SANS, 30),
    ("Insured: Oliver Brown", SANS, 30),
    ("Insurer: Sterling Mutual Insurance", SANS, 30),
    ("Valid from 1 March 2024 to 28 February 2025", SANS, 30),
    ("Annual premium: GBP 412.00", SANS, 30),
]

NOTICE = [
    ("Library Notice", SANS_BOLD, 15),
    ("Dear reader, the book you borrowed on 2 May 2024", SANS, 11),
    ("is due back on 23 May 2024. A late fee of EUR 0.50", SANS, 11),
    ("per day applies after that date. Thank you.", SANS, 11),
]

FORMAT_NOTE = [
    ("Meeting moved to Friday", SANS_BOLD, 34),
    ("Room 4.12 at 10:30", SANS, 30),
]


def render(lines, width, margin=90, line_gap=1.45, bg=255, fg=0):
    """Renders lines of (text, font, px) onto a grayscale page."""
    height = margin * 2 + int(sum(size * line_gap for _, _, size in lines))
    page = Image.new("L", (width, height), bg)
    draw = ImageDraw.Draw(page)
    y = margin
    for text, font_path, size in lines:
        if text:
            draw.text((margin, y), text, font=ImageFont.truetype(font_path, size), fill=fg)
        y += int(size * line_gap)
    return page


def truth(lines):
    return "\n".join(text for text, _, _ in lines if text) + "\n"


def write_truth(name, text):
    with open(os.path.join(GT, name + ".txt"), "w") as f:
        f.write(text)


def photograph(page, angle, seed, dpi=72):
    """Makes a page look like a phone photo: on a table, tilted, uneven light, noise, blur."""
    rng = random.Random(seed)
    pad = 120
    table = Image.new("RGB", (page.width + 2 * pad, page.height + 2 * pad), (92, 74, 58))
    sheet = page.convert("RGB").point(lambda v: int(v * 0.93 + 8))
    table.paste(sheet, (pad, pad))
    tilted = table.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(92, 74, 58))
    # Uneven illumination: darker towards the bottom right.
    shade = Image.linear_gradient("L").resize(tilted.size).rotate(35)
    shade = shade.point(lambda v: 255 - v // 5)
    tilted = Image.composite(tilted, Image.new("RGB", tilted.size, (0, 0, 0)), shade)
    noise = Image.effect_noise(tilted.size, 14).convert("RGB")
    tilted = Image.blend(tilted, noise, 0.06)
    tilted = tilted.filter(ImageFilter.GaussianBlur(0.9))
    _ = rng
    return tilted, dpi


def text_pdf(pages, path):
    """A born-digital PDF: Helvetica text objects, one list of lines per page."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1 + 2 * len(pages)
    kids = []
    for lines in pages:
        ops = [b"BT", b"/F1 12 Tf", b"16 TL", b"72 760 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(b"(" + escaped.encode("cp1252") + b") Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    assert add(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
               + b"] /Count %d >>" % len(kids)) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, xref))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def png_bomb(path, side):
    """A valid 1-bit PNG of side x side white pixels: tiny on disk, huge once decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def main():
    for folder in (GT, BAD, FORMATS):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    for name in os.listdir(ROOT):
        if os.path.isfile(os.path.join(ROOT, name)) and name != "README.md":
            os.remove(os.path.join(ROOT, name))

    invoice = render(INVOICE, 1240)
    invoice.save(os.path.join(ROOT, "invoice.png"), dpi=(200, 200), optimize=True)
    write_truth("invoice.png", truth(INVOICE))

    receipt = render(RECEIPT, 640, margin=50)
    receipt.convert("RGB").save(os.path.join(ROOT, "receipt.jpg"), quality=88, dpi=(200, 200))
    write_truth("receipt.jpg", truth(RECEIPT))

    letter = render(LETTER, 1200)
    letter.save(os.path.join(ROOT, "letter.png"), dpi=(200, 200), optimize=True)
    write_truth("letter.png", truth(LETTER))

    # Content decides the format, not the name: a PNG saved under a .tif name.
    certificate = render(CERTIFICATE, 1200)
    certificate.save(os.path.join(ROOT, "certificate-mislabeled.tif"), format="PNG", optimize=True)
    write_truth("certificate-mislabeled.tif", truth(CERTIFICATE))

    with tempfile.TemporaryDirectory() as tmp:
        p1 = os.path.join(tmp, "p1.tif")
        p2 = os.path.join(tmp, "p2.tif")
        render(CONTRACT_P1, 1240).save(p1, compression="tiff_lzw", dpi=(200, 200))
        render(CONTRACT_P2, 1240).convert("1").save(p2, compression="group4", dpi=(200, 200))
        subprocess.run(["tiffcp", p1, p2, os.path.join(ROOT, "contract-2pages.tif")], check=True)
    write_truth("contract-2pages.tif", truth(CONTRACT_P1) + truth(CONTRACT_P2))

    s1 = render(STATEMENT_P1, 1240)
    s2 = render(STATEMENT_P2, 1240)
    s1.save(os.path.join(ROOT, "statement-scanned.pdf"), save_all=True, append_images=[s2], resolution=200.0)
    write_truth("statement-scanned.pdf", truth(STATEMENT_P1) + truth(STATEMENT_P2))

    text_pdf([UTILITY_BILL[:5], UTILITY_BILL[5:]], os.path.join(ROOT, "utility-bill.pdf"))
    write_truth("utility-bill.pdf", "\n".join(UTILITY_BILL) + "\n")

    delivery, dpi = photograph(render(DELIVERY_NOTE, 1100), 4.5, seed=1)
    delivery.save(os.path.join(ROOT, "delivery-photo-tilted.jpg"), quality=82, dpi=(dpi, dpi))
    write_truth("delivery-photo-tilted.jpg", truth(DELIVERY_NOTE))

    payslip, dpi = photograph(render(PAYSLIP, 1100), -2.0, seed=2)
    payslip.rotate(90, expand=True).save(os.path.join(ROOT, "payslip-photo-sideways.jpg"), quality=82, dpi=(dpi, dpi))
    write_truth("payslip-photo-sideways.jpg", truth(PAYSLIP))

    # Stored turned 90 degrees counter-clockwise, with EXIF orientation 6 telling viewers to turn it back.
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = render(RECEIPT[:4] + RECEIPT[9:], 640, margin=50).convert("RGB")
    stored = upright.rotate(90, expand=True)
    stored.save(os.path.join(ROOT, "receipt-exif-rotated.jpg"), quality=88, exif=exif.tobytes(), dpi=(72, 72))
    assert ImageOps.exif_transpose(Image.open(os.path.join(ROOT, "receipt-exif-rotated.jpg"))).size == upright.size
    write_truth("receipt-exif-rotated.jpg", truth(RECEIPT[:4] + RECEIPT[9:]))

    # Scanned upside down (the feeder took the page the wrong way round).
    render(LETTER, 1200).rotate(180).save(os.path.join(ROOT, "letter-upside-down.png"), dpi=(200, 200), optimize=True)
    write_truth("letter-upside-down.png", truth(LETTER))

    faded = render(CERTIFICATE, 1200, bg=206, fg=160)
    faded.save(os.path.join(ROOT, "certificate-low-contrast.png"), dpi=(200, 200), optimize=True)
    write_truth("certificate-low-contrast.png", truth(CERTIFICATE))

    tiny = render(NOTICE, 360, margin=16)
    tiny.save(os.path.join(ROOT, "notice-small-text.png"), dpi=(72, 72), optimize=True)
    write_truth("notice-small-text.png", truth(NOTICE))

    note = render(FORMAT_NOTE, 640, margin=40)
    note.save(os.path.join(FORMATS, "note.webp"), lossless=True)
    note.save(os.path.join(FORMATS, "note.bmp"))
    note.save(os.path.join(FORMATS, "note.gif"))
    note.save(os.path.join(FORMATS, "note.jpeg-named.png"), format="JPEG", quality=90)
    for ext in ("webp", "bmp", "gif", "jpeg-named.png"):
        write_truth("note." + ext, truth(FORMAT_NOTE))

    # Bad inputs: each must be refused with its own typed error and cost nothing else.
    with open(os.path.join(ROOT, "receipt.jpg"), "rb") as f:
        jpeg = f.read()
    with open(os.path.join(ROOT, "invoice.png"), "rb") as f:
        png = f.read()
    open(os.path.join(BAD, "empty.png"), "wb").close()
    with open(os.path.join(BAD, "truncated.jpg"), "wb") as f:
        f.write(jpeg[: len(jpeg) * 2 // 5])
    with open(os.path.join(BAD, "truncated.png"), "wb") as f:
        f.write(png[: len(png) // 2])
    with open(os.path.join(BAD, "not-an-image.jpg"), "wb") as f:
        f.write(b"This is a plain text file wearing a .jpg name.\n" * 20)
    with open(os.path.join(BAD, "random.bin"), "wb") as f:
        f.write(random.Random(7).randbytes(4096))
    with open(os.path.join(BAD, "corrupt.pdf"), "wb") as f:
        f.write(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf body\n")
    text_pdf([["Page %d" % (n + 1)] for n in range(101)], os.path.join(BAD, "too-many-pages.pdf"))
    png_bomb(os.path.join(BAD, "bomb.png"), 50000)


if __name__ == "__main__":
    main()
