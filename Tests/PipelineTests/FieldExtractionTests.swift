import Foundation
@testable import Plugins
import Testing

/// The rules of the offline analyser's field extraction, each with the real strings that drove it: SROIE
/// receipt lines as the corpus truth and our OCR print them (`../shared/corpora/receipts`).
@Suite("Field extraction")
struct FieldExtractionTests {
    static func total(_ text: String) -> Decimal? {
        LocalAnalyzer().analyze(text: text).primaryAmount?.value
    }

    // MARK: Money as OCR prints it

    @Test("OCR's damage to numbers is undone", arguments: [
        ("Sub Total : RM 68. 87", "Sub Total : RM 68.87"), ("TOTAL RM 27. 00", "TOTAL RM 27.00"), ("Total 1O.40", "Total 10.40"),
        ("Change O.50", "Change 0.50"), ("Jalan Tampoi 7/4", "Jalan Tampoi 7/4"), ("NO. 31G&33G", "NO. 31G&33G"),
        ("$07 COKE 1.5L RMS.98 s", "$07 COKE 1.5L RM5.98 s"), ("EAGLE FRIED DACE WI SA = RMI3.98 s", "EAGLE FRIED DACE WI SA = RM13.98 s"),
        ("Total $1S.50", "Total $15.50"), ("SALES 4.40S", "SALES 4.40S"), ("ITEMS: 3 CASHIER", "ITEMS: 3 CASHIER"),
    ])
    func repairsNumbers(raw: String, repaired: String) {
        #expect(MoneyText.repair(raw) == repaired)
    }

    @Test("RH and RN are ringgit only where the document prints RM")
    func ringgitMisread() {
        #expect(MoneyText.lines("Cash:RN 26.00\nChange: RM 5.95")[0] == "Cash:RM 26.00")
        #expect(MoneyText.lines("Cash:RN 26.00")[0] == "Cash:RN 26.00")
    }

    @Test("labels say what an amount is", arguments: [
        ("NETT TOTAL", MoneyLabel.payable), ("Nett Total;", .payable), ("Total Amt Payable :", .payable), ("ROUNDED TOTAL", .payable),
        ("Tota] Rounded", .payable), ("GRAND TOTAL", .payable), ("AMOUNT DUE", .payable), ("Balance due", .payable),
        ("Total Incl. GST@6%", .payable), ("Total Sales (Inclusive of GST) :", .payable), ("TOTAL INCL. VAT", .payable), ("FinalTotal", .payable),
        ("Net Amt:", .payable), ("Net pay:", .payable), ("TOTAL", .total), ("TOTAL (RM)", .total), ("Tota |", .total), ("Totai Amount:", .total),
        ("Total Sales (Excluding GST) :", .subtotal), ("Sub Total", .subtotal), ("SUB-TOTAL", .subtotal), ("Total 0% supplies:", .subtotal),
        ("GST @6% included in total", .tax), ("Total GST", .tax), ("GST Payable:", .tax), ("Sales tax 8%:", .tax),
        ("*Total Qty: 1.00", .count), ("TOTAL QUANTITY", .count), ("CHANGE", .change), ("Cash Change", .change), ("Cash Tendered", .tendered),
        ("CASH", .tendered), ("EDC MASTER", .tendered), ("Rounding Adjustment", .rounding), ("Round Adj", .rounding), ("Discount", .discount),
        ("TIC TAC CANDY MINT (WH", .none),
    ])
    func labels(label: String, role: MoneyLabel) {
        #expect(MoneyLabel(label) == role, "\(label) → \(MoneyLabel.fold(label))")
    }

    // MARK: The bottom line

    @Test("a total with no currency sign is still the total")
    func bareTotal() {
        let analysis = LocalAnalyzer().analyze(text: "CORNER SHOP\nCoffee 3.50\nCake 7.40\nTOTAL 10.90\nThank you")
        #expect(analysis.primaryAmount?.value == Decimal(string: "10.90"))
        #expect(analysis.primaryAmount?.currency == nil)
        #expect(analysis.total?.label == "TOTAL")
    }

    @Test("DEFAULT_CURRENCY applies when the document neither prints nor implies one")
    func defaultCurrency() {
        let analysis = LocalAnalyzer(defaultCurrency: "EUR").analyze(text: "CORNER SHOP\nCoffee 3.50\nTOTAL 3.50")
        #expect(analysis.total?.currency == "EUR")
        #expect(analysis.currency == "EUR")
    }

    @Test("the payable total beats the subtotal, the tax, the cash and the change")
    func payableWins() {
        let text = """
        Total (Excluding GST): 28.58
        GST payable (6%): 1.72
        Total (Inclusive of GST): 30.30
        CASH : 50.00
        CHANGE : 19.70
        """
        let analysis = LocalAnalyzer().analyze(text: text)
        #expect(analysis.total?.value == Decimal(string: "30.30"))
        #expect(analysis.tax?.value == Decimal(string: "1.72"))
    }

    @Test("the amount paid after rounding: cash − change agrees with total + rounding (sroie_418)")
    func rounding() {
        #expect(Self.total("Total Amount(incl. GST) 31.47\nRounding -0.02\nCASH 50.00\nCHANGE 18.55") == Decimal(string: "31.45"))
    }

    @Test("'Rounding RM 177, 20' under the unrounded total is the rounded total (99 Speed Mart)")
    func roundedUnderRoundingWord() {
        #expect(Self.total("Total Sales (Inclusive GST) RM 177,22\nRounding Adjustment RM -.02\nRounding RM 177, 20 |\nCHANGE RM . 00") == Decimal(string: "177.20"))
    }

    @Test("a rounded total one misread away loses to the total and its adjustment that add up to the payment (sroie_405, CLI text)")
    func roundedTotalMisread() {
        let text = "Total Sales (Inclusive GST) RM 177,22\nRounding Adjustment RM -.02\nRounding RM 177, 26\nCREDIT RM 177,20\nCHANGE RM . Ot)"
        #expect(Self.total(text) == Decimal(string: "177.20"))
        // With no payment to agree, the rounded total as printed stands.
        #expect(Self.total("Total Sales (Inclusive GST) RM 177,22\nRounding Adjustment RM -.02\nRounding RM 177, 26") == Decimal(string: "177.26"))
    }

    @Test("a stored-value card's balance is no subtotal, and a 'tax' larger than the subtotal adds nothing (sroie_518, CLI text)")
    func cardBalance() {
        #expect(MoneyLabel("Balance before") == .otherMoney)
        #expect(MoneyLabel("Balance after") == .otherMoney)
        #expect(MoneyLabel("Balance due") == .payable)
        let text = "Balance before = RM 1.90\nBalance after RM 31.40\nTNG Reload RM 30 4 RM 29.50 ES\nES=GST 0.00%: RM 2950 RMO.00"
        // No payable line and no sum that holds: no total rather than 1.90 + 295 = 296.90.
        #expect(Self.total(text) == nil)
        #expect(Self.total("Sub Total 10.00\nGST 6% 25.00") == nil)
        #expect(Self.total("Sub Total 10.00\nGST 6% 0.60") == Decimal(string: "10.60"))
    }

    @Test("with no total and no payment legible, items whose quantity × price is their amount add up to the total (sroie_005, CLI text)")
    func itemsThatCheck() {
        let text = "Description Qty Price Amount\nso RM RM\nol — 2 15.50 31.00\n\nTatal Amount:\nCash Received\nChange :"
        let analysis = LocalAnalyzer().analyze(text: text)
        #expect(analysis.total?.value == Decimal(string: "31.00"))
        // A quantity worked out as amount ÷ price checks nothing: no total from such items.
        #expect(Self.total("Description Price Amount\nCoffee 3.50 7.00\n\nTatal Amount:") == nil)
        // An item whose figures do not multiply out may be misread, or a line that is no item: no total then.
        #expect(Self.total("Description Qty Price Amount\nol — 2 15.50 37.00\n\nTatal Amount:") == nil)
    }

    @Test("a card slip's 'Purchase' is what it charged; with no change, the total (WildReceipt wr_56513135, our OCR)")
    func cardPurchase() {
        #expect(MoneyLabel("Purchase $") == .tendered)
        #expect(MoneyLabel("Discount on purchases of") == .discount)
        let text = "BAKERY DEPT\nPAPER BAG 0.10 F\nPurchase $ 1.48\nVISA el #SXAXXXXAXAXXXSOOS\ny CHANGE 0.00\n| Total nunber of items sold = 4 |"
        #expect(Self.total(text) == Decimal(string: "1.48"))
    }

    @Test("a later total that is an earlier one plus the amount between them is the bill after that charge (wr_955e0c71, our OCR)")
    func totalPlusCharge() {
        let items = "1 Fried Okra sa $3.74\n1 Fish tacos $11.21\n1 Two Peo Ckn and Waffles $9.35\n1 Scottish Ale $14.28\n"
        #expect(Self.total(items + "Net Total $38.58\nlax $2.42\nTOTAL: $41.00\nAmount Due: $41.00\nFood: $30.17") == Decimal(string: "41.00"))
        // GST between a total and the nett total after it.
        #expect(Self.total("TOTAL 10.00\nGST 6% 0.60\nNETT TOTAL 10.60\nCASH 20.00\nCHANGE 9.40") == Decimal(string: "10.60"))
        // A later, larger figure that no amount between them explains changes nothing.
        #expect(Self.total(items + "Net Total $38.58\nlax $2.42\nTOTAL: $45.00") == Decimal(string: "38.58"))
    }

    @Test("a misread total loses to cash − change when the two agree elsewhere (sroie_268)")
    func cashMinusChange() {
        let text = "Total Sales (Inclusive GST) RM 52.08\nRounding Adjustment RH 02\nRounding RM 2.10\nCASH RM 60.00\nCHANGE RM = 7.90"
        #expect(Self.total(text) == Decimal(string: "52.10"))
    }

    @Test("'TOTAL INCLUDES 6% GST 1.61' is the tax, not the total")
    func taxInTotal() {
        let text = "TakeOut Total (incl GST) 28.50\nTota] Rounded 28.50\nCash Tendered 50.00\nChange 21.50\nTOTAL INCLUDES 6% GST 1.61"
        let analysis = LocalAnalyzer().analyze(text: text)
        #expect(analysis.total?.value == Decimal(string: "28.50"))
        #expect(analysis.tax?.value == Decimal(string: "1.61"))
    }

    @Test("a summary row's last number is the total when the others add up to it")
    func summaryRow() {
        #expect(Self.total("Code % NetAmt GST Total(RM)\nSR 6 9.81 0.59 10.40\nTotal 9.81 0.59 10.40") == Decimal(string: "10.40"))
    }

    @Test("a label alone on its line names the amount on the next (sroie_180)")
    func labelAbove() {
        let analysis = LocalAnalyzer().analyze(text: "TOTAL AMOUNT PAYABLE\nRM 41,95\nEDC MASTER RM 41.95")
        #expect(analysis.total?.value == Decimal(string: "41.95"))
        #expect(analysis.total?.currency == "MYR")
    }

    @Test("tax-rate breakdowns are not the bill (Gardenia's 'Total 0% supplies')")
    func supplies() {
        let text = "Total 0% supplies: 26.61\nTotal 6% supplies (excl. GST): -2.88\nTotal 6% supplies (inc. GST): -3.05\nTotal Payable: 23.56"
        #expect(Self.total(text) == Decimal(string: "23.56"))
    }

    @Test("with no total printed, money paid with no change is the total")
    func paidExactly() {
        #expect(Self.total("2 TEA 2.50 5.00\nCASH 5.00\nCHANGE 0.00") == Decimal(string: "5.00"))
        // The total and the change label misread (our OCR of sroie_280): no change legible is no change given.
        let misread = "3 FISHBALL NOODLE €7.00 21.00\n3 SUB TOTAL 21.00\nGST 6% ; J 1.6\nROUNDING ADJ Vv -0.01\nfV\nNET TOTAL 2.2\nCash 22.25\na 0.00"
        #expect(Self.total(misread) == Decimal(string: "22.25"))
        // Cash handed over with change given is not the total.
        #expect(Self.total("2 TEA 2.50 5.00\nCASH 10.00\nCHANGE 5.00") != Decimal(string: "10.00"))
    }

    @Test("one misread digit is found where the cash, the change and the items agree once it is read again")
    func misreadDigit() {
        // Our OCR of sroie_043: both totals illegible, the change's faded 0 read as 6 (200.00 − 10.00 = the items' 190.00).
        let change = """
            Description Qty  U.price Total TAX\nHEINEKEN (5 BTL)\n2x 95.00 190.00 SR\nTotal (Excluding GST): im.aS\nGST Payable: 10.75
            Total (Inclusive of GST): e000\nClosed: 32 11-03-2018 00:32:02\nCASH : 200. 00\nCHANGE : 16. 00
            """
        #expect(Self.total(change) == Decimal(string: "190.00"))
        // Our OCR of sroie_168: the total due's 5 read as 9; paid exactly, and 25.15 printed twice more.
        let due = "171153 D/R BUTTE 1 4.20 0 4.208\nty 8 25.15\n| Rounding Adj - 0.00\n| Due 29.15\nPay 25.15\nChange 0.00"
        #expect(Self.total(due) == Decimal(string: "25.15"))
        // Readings that agree as printed are never re-read: change given, and a total that matches.
        #expect(Self.total("2 TEA 2.50 5.00\nTOTAL 5.00\nCASH 10.00\nCHANGE 5.00") == Decimal(string: "5.00"))
        // Paid exactly, but the printed total is the reading more often printed: the total stays.
        #expect(Self.total("1 TEA 29.15\nTOTAL 29.15\nCASH 25.15\nCHANGE 0.00") == Decimal(string: "29.15"))
        // A change no single misread reconciles leaves cash − change as printed.
        #expect(Self.total("2 TEA 2.50 5.00\nCASH 50.00\nCHANGE 42.00") == Decimal(string: "8.00"))
    }

    @Test("the misreadings of an amount are one confusable digit each")
    func misreadings() {
        let readings = MoneyText.misreadings(of: Decimal(string: "16.00")!)
        #expect(readings.contains(Decimal(string: "10.00")!))
        #expect(readings.contains(Decimal(string: "76.00")!))
        #expect(!readings.contains(Decimal(string: "16.00")!))
        #expect(!readings.contains(Decimal(string: "12.00")!))
        #expect(MoneyText.oneMisreadApart(Decimal(string: "29.15")!, Decimal(string: "25.15")!))
        #expect(!MoneyText.oneMisreadApart(Decimal(string: "25.92")!, Decimal(string: "25.00")!))
    }

    @Test("a total whose label is lost is the amount between the subtotal and the payment, never below the subtotal (sroie_255)")
    func unlabelledTotal() {
        // Our OCR of sroie_255: a punched hole took the "TOTAL" label, and the cash's 9 reads as 6.
        let text = "ZAL:VITAMAS CARTON\nTOTALQUANTITY 1020\nSUB-TOTAL 92.50 _\ncsr an\nRann on AY\n\not .\n1 94.00\nCASH 64.00\nCHANGE 0.00"
        #expect(Self.total(text) == Decimal(string: "94.00"))
        // With nothing legible between them, a payment below the subtotal is not taken for the total.
        #expect(Self.total("SUB-TOTAL 92.50\nCASH 64.00\nCHANGE 0.00") != Decimal(string: "64.00"))
    }

    // MARK: Currency

    @Test("currency from the sign, the code or the place", arguments: [
        ("TOTAL RM 12.00", "MYR"), ("Total: S$ 8.20", "SGD"), ("Grand Total ₹ 450.00", "INR"), ("Summe 12,50 EUR", "EUR"),
        ("UNIHAKKA INTERNATIONAL SDN BHD\n12, Jalan Tampoi 7/4\nNett Total: $8.20", "MYR"),
        ("KEDAI PAPAN YEW CHUAN\nLOT 276 JALAN BANTING\n43800 DENGKIL, SELANGOR.\nTotal Sales (Inclusive of GST) : 178.08", "MYR"),
        ("Joe's Diner\nSpringfield, IL 62701\nSales tax 1.20\nTotal $15.20", "USD"),
    ])
    func currency(text: String, code: String) {
        let analysis = LocalAnalyzer().analyze(text: text)
        #expect(analysis.currency == code)
        #expect(analysis.primaryAmount?.currency == code)
    }

    @Test("one odd sign in a document from a known place does not decide its currency (sroie_130's OCR '€0')")
    func oddSign() {
        let text = "BEYOND BROTHERS HARDWARE\nJLN 1/59, DIAMOND SQUARE\n53000 KUALA LUMPUR, Selangor\nTotal Sales (Inclusive of GST) : 63.60\nSR 6 €0 3 360}"
        #expect(LocalAnalyzer().analyze(text: text).currency == "MYR")
    }

    // MARK: Dates

    @Test("receipt dates as printed become ISO dates", arguments: [
        ("23-03-18 12:01", "2018-03-23"), ("20180304", "2018-03-04"), ("05 Mar 2018 18:24", "2018-03-05"), ("Dater11/03/18 21:30", "2018-03-11"),
        ("09: 06PH 5467455 Oi-11-17", "2017-11-01"), ("Date : 09/01/2019 8:01:11 PM", "2019-01-09"), ("04 JAN 2017", "2017-01-04"),
        ("11-05-16 19:44", "2016-05-11"), ("Date: 6/4/2018", "2018-04-06"),
        // Our OCR of sroie_105: a 0 read as @, and as 9 in an impossible month.
        ("Date : 14-@2-2018 13:02:42", "2018-02-14"), ("Closed: 061 14-92-2018 13:50:58", "2018-02-14"),
    ])
    func receiptDates(text: String, iso: String) {
        #expect(LocalAnalyzer().analyze(text: "SHOP\n" + text + "\nTOTAL 1.00").documentDate == iso)
    }

    @Test("a date as printed is never re-read; an impossible one only when one reading of its 6, 8 or 9 as 0 is a date")
    func zeroReadsOnlyImpossibleDates() {
        #expect(DateExtractor(monthFirst: false).extract(from: "Date: 16/06/2018").map(\.iso) == ["2018-06-16"])
        // Our OCR of sroie_193 (a Malaysian receipt, day first): the 0 of "01" read as 6.
        #expect(DateExtractor(monthFirst: false).extract(from: "61/03/18 12:36 Slip No.: $070058756").map(\.iso) == ["2018-03-01"])
        // 88/88/18: both parts impossible, two readings would be needed: no date.
        #expect(DateExtractor(monthFirst: false).extract(from: "Ref 88/98/18").isEmpty)
        #expect(DateExtractor(monthFirst: false).extract(from: "Ref 45/03/18").isEmpty)
    }

    @Test("the receipt's date, not the points' expiry printed below it (sroie_180)")
    func expiryIsNotTheDate() {
        let text = "18-01-2018 15:44:46 Cashier: 888\nTOTAL SALES RM 41.95\nEPOINTS Expiry 24 31/10/2020"
        let analysis = LocalAnalyzer().analyze(text: text, received: Self.day("2018-01-20"))
        #expect(analysis.documentDate == "2018-01-18")
        #expect(analysis.dates.contains("2020-10-31"))
    }

    @Test("a date more than a year after the upload is dropped unless it is a deadline")
    func farFuture() {
        let received = Self.day("2024-03-01")
        let analysis = LocalAnalyzer().analyze(text: "Receipt 01/02/2024\nPrinted 13/07/2027\nValid until 01/02/2027\nTOTAL 1.00", received: received)
        #expect(analysis.documentDate == "2024-02-01")
        #expect(analysis.dates == ["2024-02-01", "2027-02-01"])
    }

    @Test("an ambiguous date follows the document's other dates, then its country")
    func ambiguity() {
        #expect(LocalAnalyzer().analyze(text: "Date: 03/04/2018\nPrinted 25/04/2018").documentDate == "2018-04-03")
        #expect(LocalAnalyzer().analyze(text: "Date: 03/04/2018\nPrinted 04/25/2018").documentDate == "2018-03-04")
        #expect(LocalAnalyzer().analyze(text: "Joe's Diner\nSpringfield, IL 62701\nDate: 03/04/2018\nSales tax 1.20").documentDate == "2018-03-04")
        #expect(LocalAnalyzer().analyze(text: "MR. D.I.Y. (M) SDN BHD\nJALAN KPB 6\nDate: 03/04/2018\nTotal $1.00").documentDate == "2018-04-03")
    }

    // MARK: Issuer

    @Test("the issuer is the head's company, joined across lines, without its registration number", arguments: [
        ("SU ae\nPASARAYA BORONG PINTAR\nSDN BHD\nBR No.: (124525-H)\n| NO 19-G&19-1&19-2 JALAN TASIK UTAMA 4, |", "PASARAYA BORONG PINTAR SDN BHD"),
        ("31804002\nSette :\nPOPULAR BOOK\nCO. (M) SDN BHD\n(Co. No. 113825-W)", "POPULAR BOOK CO. (M) SDN BHD"),
        ("3180404 ; ,\nSa Of yet\nGHEE HIANG\nGH DISTRIBUTOR & MARKETING SDN BHD\n(1097826-F)\n95, Beach Road, 10300 Penang.", "GHEE HIANG GH DISTRIBUTOR & MARKETING SDN BHD"),
        ("gv\nAEON CO. (M) BHD. (126926-H)\n3 FLOOR, AEON TAMAN MALURI SC\nJLN JEJAKA, TAMAN MALURI\nSHOPPING HOURS", "AEON CO. (M) BHD."),
        ("tan chay yee\nABC HO TRADING\nNo.2&4, JALAN HARMONT 3/2,", "ABC HO TRADING"),
        ("@\n99 SPEED MART S/B (519537-X)\nLOT P.T. 2811, JALAN ANGSA,", "99 SPEED MART S/B"),
        ("' TAX INVOICE\n. BHPetro} Subang Airport\nJalan Lapangan Terbang Subang\n. 47200 Subang", "BHPetro Subang Airport"),
        ("MR. D.I.¥. (M) SON BHD\n(CO REG : 860871-D)", "MR. D.I.¥. (M) SDN BHD"),
        ("_ ey i!\n. \"anos RL 7 by.\nee — By bp a Vegi ” oy \"0 Ay, C\n3 (204 0%b vn aa Oe5.,\nMR. D.T.¥. (M) SON BHD\n(CO.REG :860671-D)", "MR. D.T.¥. (M) SDN BHD"),
        ("Müller Bau AG\nHauptstraße 5\n80331 München", "Müller Bau AG"),
        ("Thank You. Please come agai.\nGoods Sold. Are Not Returnatde.\nSegi Cash & Carry Sdn. Bhd\n(41704i-W)", "Segi Cash & Carry Sdn. Bhd"),
        // Our OCR of sroie_505: the branch in brackets wraps onto the line with the company form (its D read as B).
        ("Sucueee, ; Aarne hd\nATK HUAT HARUMARE\n“ENTERPRISE “(SETiA\n“ ALAM) SBN BHD\nB22737-%\nNO. 17-8, JALAH aes THDAH",
         "ATK HUAT HARUMARE ENTERPRISE (SETiA ALAM) SDN BHD"),
        // A bracket closed on an address line is not a name going on.
        ("KEDAI RUNCIT (TAMAN\nNO. 5, JALAN 2) 43000 KAJANG", "KEDAI RUNCIT (TAMAN"),
    ])
    func issuer(header: String, name: String) {
        #expect(IssuerFinder().find(in: header)?.name == name)
    }

    @Test("a customer company further down is not the issuer (Gardenia's delivery to a market)")
    func customerIsNotIssuer() {
        let text = """
        GARDENIA BAKERIES (KL) SDN BHD (139386 X)
        Lot 3, Jalan Pelabur 23/1,
        40300 Shah Alam, Selangor.
        Tel: 03- 55423228 Fax:03- 55423213
        TAX INVOICE / ADJUSTMENT NOTE
        Cash Inv No.: 7916710
        HAKASSAR FRESH MARKET SDN BHD
        """
        let found = IssuerFinder().find(in: text)
        #expect(found?.name == "GARDENIA BAKERIES (KL) SDN BHD")
    }

    @Test("the registration number is kept as a key fact")
    func registration() {
        let analysis = LocalAnalyzer().analyze(text: "A030/8\nUNIHAKKA INTERNATIONAL SDN BHD\n05 Mar 2018 18:24\n(867388-U}\n12, Jalan Tampoi 7/4\nNett Total: $8.20")
        #expect(analysis.issuer == "UNIHAKKA INTERNATIONAL SDN BHD")
        #expect(analysis.keyFacts.contains(.init(label: "Registration No", value: "867388-U")))
    }

    // MARK: Line items

    @Test("line items are kept apart from the amounts, once each")
    func lineItems() throws {
        let text = """
        ACME Consulting GmbH
        Invoice No: 2024-12
        Consulting services 12 h 150.00 1,800.00
        Travel 2 x 45.00 90.00
        Consulting services 12 h 150.00 1,800.00
        Subtotal: EUR 1,890.00
        VAT 19%: EUR 359.10
        Total due: EUR 2,249.10
        """
        let analysis = LocalAnalyzer().analyze(text: text)
        #expect(analysis.total == .init(value: Decimal(string: "2249.10")!, currency: "EUR", label: "Total due"))
        #expect(analysis.amounts.map(\.label) == ["Subtotal", "VAT 19%", "Total due"])
        let items = try #require(analysis.lineItems)
        #expect(items.first == .init(description: "Consulting services 12 h", quantity: 12, unitPrice: 150, amount: 1800))
        #expect(items.contains(.init(description: "Travel", quantity: 2, unitPrice: 45, amount: 90)))
        #expect(analysis.fieldConfidence?["total"] ?? 0 > 0.7)
    }

    static func day(_ iso: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: iso)!
    }
}
