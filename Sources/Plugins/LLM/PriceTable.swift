import Foundation

/// Estimated cost of LLM calls: USD per million input and output tokens, per model. The built-in
/// table holds list prices; a JSON file (`LLM_PRICES_FILE`) overrides or adds models:
/// `{"claude-sonnet-4-5": {"input": 3, "output": 15}, "my-local-model": {"input": 0, "output": 0}}`.
public struct PriceTable: Sendable, Equatable {
    public struct Price: Codable, Sendable, Equatable {
        /// USD per million tokens.
        public var input: Double
        public var output: Double

        public init(input: Double, output: Double) {
            self.input = input
            self.output = output
        }
    }

    public var prices: [String: Price]

    public init(prices: [String: Price]) {
        self.prices = prices
    }

    /// List prices in USD per million tokens (Anthropic and OpenAI pricing pages). A dated model id
    /// (`claude-sonnet-4-5-20250929`) takes the price of its family's entry.
    public static let standard = PriceTable(prices: [
        "claude-opus-4-5": Price(input: 5, output: 25),
        "claude-opus-4-1": Price(input: 15, output: 75),
        "claude-opus-4": Price(input: 15, output: 75),
        "claude-sonnet-4-5": Price(input: 3, output: 15),
        "claude-sonnet-4": Price(input: 3, output: 15),
        "claude-3-7-sonnet": Price(input: 3, output: 15),
        "claude-haiku-4-5": Price(input: 1, output: 5),
        "claude-3-5-haiku": Price(input: 0.8, output: 4),
        "gpt-5": Price(input: 1.25, output: 10),
        "gpt-5-mini": Price(input: 0.25, output: 2),
        "gpt-5-nano": Price(input: 0.05, output: 0.4),
        "gpt-4.1": Price(input: 2, output: 8),
        "gpt-4.1-mini": Price(input: 0.4, output: 1.6),
        "gpt-4.1-nano": Price(input: 0.1, output: 0.4),
        "gpt-4o": Price(input: 2.5, output: 10),
        "gpt-4o-mini": Price(input: 0.15, output: 0.6),
    ])

    /// The model's own entry, else the longest entry its id starts with; nil for models we have no price
    /// for (local servers), which then cost nothing.
    public func price(for model: String) -> Price? {
        let model = model.lowercased()
        if let exact = prices[model] { return exact }
        return prices.filter { model.hasPrefix($0.key.lowercased() + "-") || model.hasPrefix($0.key.lowercased() + "@") }
            .max { $0.key.count < $1.key.count }?.value
    }

    public func cost(model: String, inputTokens: Int, outputTokens: Int) -> Double {
        guard let price = price(for: model) else { return 0 }
        return (Double(inputTokens) * price.input + Double(outputTokens) * price.output) / 1_000_000
    }

    /// The built-in table with the file's entries laid over it.
    public static func loading(overridesAt path: String) throws -> PriceTable {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let overrides = try JSONDecoder().decode([String: Price].self, from: data)
        var table = standard
        for (model, price) in overrides {
            guard price.input >= 0, price.output >= 0 else {
                throw PriceTableError(reason: "negative price for '\(model)'")
            }
            table.prices[model.lowercased()] = price
        }
        return table
    }
}

public struct PriceTableError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
