import Mustache

/// The dashboard's pages as Mustache templates, compiled into the binary (nothing to lose in a deployment).
/// Every `{{value}}` is HTML-escaped by Mustache; the only `{{{raw}}}` values are the charts and the search
/// snippets, which `DashboardViews` builds from numbers and from text it escaped itself.
enum DashboardTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            do {
                try library.register(text, named: name)
            } catch {
                // The templates are constants of this binary: a broken one is a bug the tests catch, not a runtime state.
                fatalError("dashboard template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    static func render(_ view: Any, _ name: String) -> String {
        library.render(view, withTemplate: name) ?? ""
    }

    static let templates: [String: String] = [
        "header": header, "footer": footer, "overview": overview, "jobs": jobs, "job": job, "confirm": confirm, "documents": documents,
        "document": document, "costs": costs, "users": users, "signin": signin, "message": message,
    ]

    static let header = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="same-origin">
        <title>{{title}} · BotGateway</title>
        <link rel="stylesheet" href="/admin/static/dashboard.css">
        </head>
        <body>
        <header class="top">
        <strong class="brand">BotGateway</strong>
        {{#signedIn}}
        <nav aria-label="Sections">{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
        <form method="post" action="/admin/signout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Sign out</button></form>
        {{/signedIn}}
        </header>
        <main>
        <h1>{{title}}</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#paused}}<p class="warning" role="status">The pipeline is paused: no new work starts until it is resumed on the overview.</p>{{/paused}}

        """

    static let footer = """
        </main>
        </body>
        </html>

        """

    static let overview = """
        {{> header}}
        {{#body}}
        <section class="cards">
        <div class="card"><span class="figure">{{queued}}</span> queued</div>
        <div class="card"><span class="figure">{{running}}</span> running</div>
        <div class="card"><span class="figure">{{failureRate}}</span> failed (last 24 h, {{finishedLastDay}} finished)</div>
        <div class="card"><span class="figure">{{spendToday}}</span> spent today</div>
        <div class="card"><span class="figure">{{spendMonth}}</span> spent this month</div>
        <div class="card"><span class="figure">{{ocrBusy}}</span> documents waiting for an OCR engine</div>
        <div class="card"><span class="figure">{{undelivered}}</span> replies not yet delivered</div>
        <div class="card"><span class="figure">{{freeDisk}}</span> free in the data folder</div>
        </section>
        <section>
        <h2>Pipeline</h2>
        <form method="post" action="/admin/pipeline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{#paused}}<input type="hidden" name="action" value="resume"><button type="submit">Resume the pipeline</button>{{/paused}}
        {{^paused}}<input type="hidden" name="action" value="pause"><button type="submit">Pause the pipeline</button>{{/paused}}
        </form>
        <h2>Queue by step</h2>
        <table>
        <thead><tr><th scope="col">Step</th><th scope="col">Queued</th><th scope="col">Running</th></tr></thead>
        <tbody>
        {{#queue}}<tr><td><a href="/admin/jobs?step={{step}}">{{step}}</a></td><td>{{queued}}</td><td>{{running}}</td></tr>{{/queue}}
        {{^queue}}<tr><td colspan="3">Nothing waiting.</td></tr>{{/queue}}
        </tbody>
        </table>
        </section>
        <section>
        <h2>Documents per hour, last 24 hours</h2>
        {{{hourChart}}}
        <h2>Documents per day, last 30 days</h2>
        {{{dayChart}}}
        </section>
        {{/body}}
        {{> footer}}
        """

    static let filterForm = """
        <form method="get" action="/admin/jobs" class="filters">
        <label>State <select name="state">{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select></label>
        <label>Origin <select name="origin">{{#origins}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/origins}}</select></label>
        <label>Step <select name="step">{{#steps}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/steps}}</select></label>
        <label>User <input name="user" inputmode="numeric" value="{{user}}" size="12"></label>
        <label>From <input type="date" name="from" value="{{from}}"></label>
        <label>To <input type="date" name="to" value="{{to}}"></label>
        <button type="submit">Filter</button>
        </form>
        """

    static let jobs = """
        {{> header}}
        {{#body}}
        \(filterForm)
        <p>{{total}} jobs match.</p>
        <form method="post" action="/admin/jobs/bulk" class="bulk">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{#hidden}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hidden}}
        <button type="submit" name="action" value="retry">Retry all failed jobs matching…</button>
        <button type="submit" name="action" value="cancel">Cancel all queued and running jobs matching…</button>
        </form>
        <table class="jobs">
        <thead><tr><th scope="col">Job</th><th scope="col">File</th><th scope="col">From</th><th scope="col">State</th><th scope="col">Step</th>
        <th scope="col">Attempts</th><th scope="col">Created</th><th scope="col">Cost</th><th scope="col">Error</th></tr></thead>
        <tbody>
        {{#rows}}<tr class="state-{{state}}"><td><a href="/admin/jobs/{{code}}">{{code}}</a></td><td>{{name}}</td><td>{{origin}}</td><td>{{state}}</td>
        <td>{{step}}</td><td>{{attempts}}</td><td>{{created}}</td><td>{{cost}}</td><td>{{error}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="9">No jobs match.</td></tr>{{/rows}}
        </tbody>
        </table>
        {{#nextPage}}<p><a href="{{nextPage}}" rel="next">Older jobs →</a></p>{{/nextPage}}
        {{/body}}
        {{> footer}}
        """

    static let confirm = """
        {{> header}}
        {{#body}}
        <p>{{question}}</p>
        <form method="post" action="/admin/jobs/bulk">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="action" value="{{action}}">
        <input type="hidden" name="confirm" value="{{count}}">
        {{#hidden}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hidden}}
        {{#canApply}}<button type="submit">{{button}}</button>{{/canApply}}
        <a href="{{back}}">Back to the jobs</a>
        </form>
        {{/body}}
        {{> footer}}
        """

    static let analysisBlock = """
        {{#analysis}}
        <h2>Analysis</h2>
        <dl class="facts">
        <dt>Type</dt><dd>{{type}}</dd>
        <dt>Title</dt><dd>{{title}}</dd>
        {{#issuer}}<dt>Issuer</dt><dd>{{issuer}}</dd>{{/issuer}}
        {{#date}}<dt>Date</dt><dd>{{date}}</dd>{{/date}}
        {{#total}}<dt>Total</dt><dd>{{total}}</dd>{{/total}}
        {{#facts}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/facts}}
        </dl>
        <p class="summary">{{summary}}</p>
        {{#hasAmounts}}<h3>Amounts</h3><ul>{{#amounts}}<li>{{.}}</li>{{/amounts}}</ul>{{/hasAmounts}}
        {{#hasDates}}<h3>Dates</h3><ul>{{#dates}}<li>{{.}}</li>{{/dates}}</ul>{{/hasDates}}
        {{/analysis}}
        """

    static let job = """
        {{> header}}
        {{#body}}
        <dl class="facts">
        <dt>File</dt><dd>{{name}}</dd>
        <dt>State</dt><dd class="state-{{state}}">{{state}}</dd>
        {{#error}}<dt>Error</dt><dd class="error">{{error}}</dd>{{/error}}
        <dt>From</dt><dd>{{origin}}{{#user}}, {{user}}{{/user}}</dd>
        <dt>Created</dt><dd>{{created}}</dd>
        {{#finished}}<dt>Finished</dt><dd>{{finished}}</dd>{{/finished}}
        <dt>Tokens</dt><dd>{{inputTokens}} in, {{outputTokens}} out</dd>
        <dt>Cost</dt><dd>{{cost}}</dd>
        <dt>Document</dt><dd><a href="/admin/documents/{{sha}}">{{shortSHA}}</a></dd>
        </dl>
        {{#retryable}}
        <form method="post" action="/admin/jobs/{{code}}/retry">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Retry this job</button>
        </form>
        {{/retryable}}
        <h2>Steps</h2>
        <table>
        <thead><tr><th scope="col">Step</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Started</th>
        <th scope="col">Took</th><th scope="col">Model</th><th scope="col">Tokens in/out</th><th scope="col">Cost</th><th scope="col">Error</th></tr></thead>
        <tbody>
        {{#steps}}<tr><td>{{name}}</td><td>{{state}}</td><td>{{attempts}}</td><td>{{started}}</td><td>{{took}}</td><td>{{model}}</td>
        <td>{{inputTokens}} / {{outputTokens}}</td><td>{{cost}}</td><td class="error">{{error}}</td></tr>{{/steps}}
        </tbody>
        </table>
        \(analysisBlock)
        {{/body}}
        {{> footer}}
        """

    static let documents = """
        {{> header}}
        {{#body}}
        <form method="get" action="/admin/documents" role="search">
        <label>Words <input type="search" name="q" value="{{query}}" size="40"></label>
        <button type="submit">Search</button>
        </form>
        {{#searched}}
        <p>{{count}} documents found.</p>
        <ol class="hits">
        {{#hits}}<li><a href="/admin/documents/{{sha}}">{{name}}</a> <span class="code">{{code}}</span><br><span class="snippet">{{{snippet}}}</span></li>{{/hits}}
        </ol>
        {{/searched}}
        {{/body}}
        {{> footer}}
        """

    static let document = """
        {{> header}}
        {{#body}}
        <p class="actions"><a href="/admin/documents/{{sha}}/original?download=1">Download the original</a>
        {{#offersSearchablePDF}}· <a href="/admin/documents/{{sha}}/searchable.pdf">Download as a searchable PDF</a>{{/offersSearchablePDF}}
        · <a href="/admin/documents/{{sha}}/export.csv">Download its export row (CSV)</a></p>
        <div class="side-by-side">
        <figure class="page">
        {{#isImage}}<img src="/admin/documents/{{sha}}/original" alt="The document as sent">{{/isImage}}
        {{#isPDF}}<object data="/admin/documents/{{sha}}/original" type="application/pdf" aria-label="The PDF as sent"><a href="/admin/documents/{{sha}}/original">Open the PDF</a></object>{{/isPDF}}
        <figcaption>{{format}}, {{size}}{{#pages}}, {{pages}}{{/pages}}</figcaption>
        </figure>
        <section class="text">
        <h2>OCR text</h2>
        <pre>{{text}}</pre>
        </section>
        </div>
        \(analysisBlock)
        <h2>Jobs for this document</h2>
        <ul>{{#jobs}}<li><a href="/admin/jobs/{{code}}">{{code}}</a> {{name}} ({{state}}, {{created}})</li>{{/jobs}}</ul>
        {{/body}}
        {{> footer}}
        """

    static let costTable = """
        <table>
        <thead><tr><th scope="col">{{heading}}</th><th scope="col">Calls</th><th scope="col">Tokens in</th><th scope="col">Tokens out</th><th scope="col">Cost</th></tr></thead>
        <tbody>
        {{#lines}}<tr><td>{{label}}</td><td>{{calls}}</td><td>{{input}}</td><td>{{output}}</td><td>{{cost}}</td></tr>{{/lines}}
        {{^lines}}<tr><td colspan="5">Nothing spent.</td></tr>{{/lines}}
        </tbody>
        </table>
        """

    static let costs = """
        {{> header}}
        {{#body}}
        <form method="get" action="/admin/costs"><label>Days <select name="days">{{#ranges}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/ranges}}</select></label>
        <button type="submit">Show</button></form>
        <p>{{total}} over {{inputTokens}} tokens in and {{outputTokens}} out.</p>
        {{{chart}}}
        {{#tables}}<h2>{{title}}</h2>\(costTable){{/tables}}
        <h2>The most expensive documents</h2>
        <table>
        <thead><tr><th scope="col">Job</th><th scope="col">File</th><th scope="col">Tokens in/out</th><th scope="col">Cost</th></tr></thead>
        <tbody>
        {{#top}}<tr><td><a href="/admin/jobs/{{code}}">{{code}}</a></td><td>{{name}}</td><td>{{input}} / {{output}}</td><td>{{cost}}</td></tr>{{/top}}
        {{^top}}<tr><td colspan="4">Nothing spent.</td></tr>{{/top}}
        </tbody>
        </table>
        {{/body}}
        {{> footer}}
        """

    static let users = """
        {{> header}}
        {{#body}}
        <table>
        <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Last document</th><th scope="col">Change</th></tr></thead>
        <tbody>
        {{#members}}<tr><td>{{id}}</td><td>{{role}}{{#configured}} (BOT_ADMIN_IDS){{/configured}}</td><td>{{lastActive}}</td><td>
        {{^configured}}
        <form method="post" action="/admin/users" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}">
        {{^isAdmin}}<button type="submit" name="action" value="promote">Make admin</button>{{/isAdmin}}
        <button type="submit" name="action" value="deny">Remove</button></form>
        {{/configured}}
        </td></tr>{{/members}}
        </tbody>
        </table>
        <h2>Add someone</h2>
        <form method="post" action="/admin/users">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Telegram user id <input name="id" inputmode="numeric" required></label>
        <button type="submit" name="action" value="allow">Allow</button>
        </form>
        {{/body}}
        {{> footer}}
        """

    static let signin = """
        {{> header}}
        {{#body}}
        <p>This link signs you in to the dashboard once. It works for 10 minutes after it was made.</p>
        <form method="post" action="/admin/signin">
        <input type="hidden" name="t" value="{{token}}">
        <button type="submit">Sign in</button>
        </form>
        {{/body}}
        {{> footer}}
        """

    static let message = """
        {{> header}}
        {{#body}}<p>{{text}}</p>{{#link}}<p><a href="{{link}}">{{linkLabel}}</a></p>{{/link}}{{/body}}
        {{> footer}}
        """

    static let stylesheet = """
        :root { color-scheme: light dark; --accent: #2563eb; --bad: #b91c1c; --muted: #6b7280; }
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0; }
        header.top { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid #8884; flex-wrap: wrap; }
        header.top nav a { margin-right: 1rem; text-decoration: none; }
        header.top nav a[aria-current] { font-weight: 700; text-decoration: underline; }
        main { padding: 0 1.2rem 2rem; max-width: 90rem; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: .8rem; margin: 1rem 0; }
        .card { border: 1px solid #8884; border-radius: .4rem; padding: .6rem .8rem; }
        .figure { display: block; font-size: 1.5rem; font-weight: 700; }
        table { border-collapse: collapse; margin: .6rem 0 1.2rem; }
        th, td { border-bottom: 1px solid #8883; padding: .25rem .6rem; text-align: left; vertical-align: top; }
        td { overflow-wrap: anywhere; max-width: 28rem; }
        .state-failed, .error { color: var(--bad); }
        .notice { border-left: 4px solid var(--accent); padding: .4rem .8rem; }
        .warning { border-left: 4px solid var(--bad); padding: .4rem .8rem; }
        .filters label { margin-right: .8rem; }
        .bulk { margin: .6rem 0; }
        form.inline { display: inline; }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
        .facts dt { font-weight: 600; }
        .facts dd { margin: 0; overflow-wrap: anywhere; }
        .side-by-side { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.2rem; }
        .page img, .page object { max-width: 100%; max-height: 80vh; border: 1px solid #8884; }
        .page object { width: 100%; height: 80vh; }
        pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; max-height: 80vh; overflow: auto; }
        mark { padding: 0 .1rem; }
        .snippet { color: var(--muted); }
        .code { font-family: ui-monospace, monospace; }
        svg.chart { display: block; width: 100%; max-width: 48rem; height: auto; border-bottom: 1px solid #8886; }
        svg.chart rect { fill: var(--accent); }
        svg.chart text { font-size: 10px; fill: currentColor; }
        """
}
