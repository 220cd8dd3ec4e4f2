import CoreMetrics
import Storage

extension StepUsage {
    /// Tokens and cost as `/metrics` shows them, for every LLM call: a step's and a report summary's.
    public func record(to metrics: any MetricsFactory) {
        guard inputTokens + outputTokens > 0 else { return }
        let model = model ?? "unknown"
        Counter(label: "botgateway_llm_tokens_total", dimensions: [("direction", "input"), ("model", model)], factory: metrics)
            .increment(by: inputTokens)
        Counter(label: "botgateway_llm_tokens_total", dimensions: [("direction", "output"), ("model", model)], factory: metrics)
            .increment(by: outputTokens)
        FloatingPointCounter(label: "botgateway_llm_cost_usd_total", dimensions: [("model", model)], factory: metrics)
            .increment(by: costUSD)
    }
}
