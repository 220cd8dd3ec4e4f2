import PostgresNIO

/// The shape of a statement run for every job (the claim and finish rounds): its SQL, made by the same function
/// the store calls with the values, so the text lives in one place.
protocol PreparedShape {
    static var sql: String { get }
}

extension PreparedShape {
    /// The statement's name on the server: the shape's own name, so two shapes never share one.
    static var name: String { "botgateway_\(Self.self)" }
}

/// A statement of `Shape` with its values: the server parses it once per connection, and in a transaction with
/// `plan_cache_mode = force_generic_plan` (`PostgresDatabase.genericPlans`) plans it once too, instead of
/// parsing and planning it on every round. Its rows are read by column name, as the store's other queries'.
struct PreparedQuery<Shape: PreparedShape>: PostgresPreparedStatement {
    typealias Row = PostgresRandomAccessRow

    static var name: String { Shape.name }
    static var sql: String { Shape.sql }

    private let binds: PostgresBindings

    /// `query` must be the shape's text with other values: interpolated values never change the text.
    init(_ query: PostgresQuery) {
        assert(query.sql == Shape.sql, "\(Shape.name): the statement's text depends on its values")
        binds = query.binds
    }

    func makeBindings() -> PostgresBindings { binds }

    func decodeRow(_ row: PostgresRow) -> PostgresRandomAccessRow { row.makeRandomAccess() }
}

extension PostgresConnection {
    /// Runs `query` as the prepared statement `Shape`; its rows, read whole.
    func run<Shape: PreparedShape>(_ shape: Shape.Type, _ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await execute(PreparedQuery<Shape>(query), logger: logger) { rows.append(row) }
        return rows
    }
}
