import DevicePool
import Foundation
import HTTPTypes
import Hummingbird
import PostgresStore
import WAWire

/// The admin page's HTML: rendered here, whole, on every load and every change — the event
/// stream carries the same rendered sections, and a few lines of plain JavaScript swap them in.
/// No build step, no external assets. Every number sits in a cell with a `data-cell` name
/// (`tenant:<id>:online`, `instance:<id>:devices`, `disconnects:network`, `pairings:count`) so
/// scripts and tests can read it.
enum FleetPage {
    /// The figures of one moment, as the page shows them.
    struct Model: Sendable {
        var overview: FleetOverview
        /// The instance that rendered the page.
        var servedBy: String
        /// The lease TTL: an instance's last renewal is its latest lease expiry minus this.
        var leaseTTL: Duration
        var disconnectWindow: Duration
    }

    static func document(_ model: Model, eventsURL: String) -> Response {
        let config = (try? APIJSON.encoder.encode(["events_url": eventsURL])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let body = """
            <main id="fleet" data-live="connecting">
              <header><h1>Pairgate fleet</h1><p id="live">Connecting…</p></header>
              <div id="fleet-body">\(sections(model))</div>
            </main>
            <script type="application/json" id="fleet-config">\(config.replacingOccurrences(of: "<", with: "\\u003c"))</script>
            <script>\(script)</script>
            """
        return html(.ok, title: "Pairgate fleet", body: body)
    }

    static func message(_ status: HTTPResponse.Status, _ title: String, _ text: String) -> Response {
        html(status, title: title, body: "<main id=\"fleet\" data-live=\"error\"><h1>\(escape(title))</h1><p>\(escape(text))</p></main>")
    }

    /// The live part of the page: what the event stream sends again whenever it changes. It
    /// holds no clock of its own, so an unchanged fleet renders the same bytes.
    static func sections(_ model: Model) -> String {
        [instances(model), devices(model), disconnects(model), pairings(model)].joined(separator: "\n")
    }

    private static func instances(_ model: Model) -> String {
        var rows = ""
        for instance in model.overview.instances {
            let id = escape(instance.id)
            let renewed = instance.leasesUntil.addingTimeInterval(-model.leaseTTL.seconds)
            rows += "<tr data-instance=\"\(id)\"><th scope=\"row\">\(id)\(instance.id == model.servedBy ? " <small>(serving this page)</small>" : "")</th>"
                + "<td data-cell=\"instance:\(id):devices\">\(instance.devices)</td><td>\(time(renewed))</td><td>\(time(instance.leasesUntil))</td></tr>"
        }
        if rows.isEmpty { rows = "<tr><td colspan=\"4\">No instance holds a lease.</td></tr>" }
        return """
            <section id="instances"><h2>Instances <small data-cell="instances:count">\(model.overview.instances.count)</small></h2>
            <table><thead><tr><th scope="col">Instance</th><th scope="col">Devices</th><th scope="col">Last renewal</th><th scope="col">Leases until</th></tr></thead>
            <tbody>\(rows)</tbody></table></section>
            """
    }

    private static func devices(_ model: Model) -> String {
        let states = DeviceState.Kind.allCases
        var header = "<th scope=\"col\">Tenant</th>"
        for state in states { header += "<th scope=\"col\">\(state.rawValue.replacingOccurrences(of: "_", with: " "))</th>" }
        header += "<th scope=\"col\">stopped</th><th scope=\"col\">total</th>"
        var rows = ""
        var totals: [DeviceState.Kind: Int] = [:]
        var stopped = 0
        for tenant in model.overview.tenants {
            let id = tenant.id.api
            rows += "<tr data-tenant=\"\(id)\"><th scope=\"row\">\(escape(tenant.name))\(tenant.disabled ? " <small>(disabled)</small>" : "")</th>"
            for state in states {
                let count = tenant.devices[state] ?? 0
                totals[state, default: 0] += count
                rows += "<td data-cell=\"tenant:\(id):\(state.rawValue)\"\(count == 0 ? " class=\"zero\"" : "")>\(count)</td>"
            }
            stopped += tenant.stopped
            rows += "<td data-cell=\"tenant:\(id):stopped\">\(tenant.stopped)</td>"
            rows += "<td data-cell=\"tenant:\(id):total\">\(tenant.devices.values.reduce(0, +))</td></tr>"
        }
        var footer = "<th scope=\"row\">All tenants</th>"
        for state in states { footer += "<td data-cell=\"total:\(state.rawValue)\">\(totals[state] ?? 0)</td>" }
        footer += "<td data-cell=\"total:stopped\">\(stopped)</td><td data-cell=\"total:total\">\(totals.values.reduce(0, +))</td>"
        return """
            <section id="devices"><h2>Devices by tenant and state</h2>
            <table><thead><tr>\(header)</tr></thead><tbody>\(rows)</tbody><tfoot><tr>\(footer)</tr></tfoot></table></section>
            """
    }

    private static func disconnects(_ model: Model) -> String {
        let counts = model.overview.disconnects.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        var rows = ""
        for (category, count) in counts {
            let name = escape(category)
            rows += "<tr><th scope=\"row\">\(name.replacingOccurrences(of: "_", with: " "))</th><td data-cell=\"disconnects:\(name)\">\(count)</td></tr>"
        }
        if rows.isEmpty { rows = "<tr><td colspan=\"2\">None.</td></tr>" }
        let minutes = Int(model.disconnectWindow.seconds / 60)
        return """
            <section id="disconnects"><h2>Disconnects in the last \(minutes) minutes <small data-cell="disconnects:total">\(counts.reduce(0) { $0 + $1.value })</small></h2>
            <table><thead><tr><th scope="col">Category</th><th scope="col">Count</th></tr></thead><tbody>\(rows)</tbody></table></section>
            """
    }

    private static func pairings(_ model: Model) -> String {
        var rows = ""
        for pairing in model.overview.pairings {
            rows += "<tr data-pairing=\"\(pairing.id.api)\"><th scope=\"row\">\(escape(pairing.tenantName))</th><td>\(pairing.method.rawValue)</td>"
                + "<td>\(escape(pairing.instance))</td><td>\(time(pairing.startedAt))</td><td>\(time(pairing.deadline))</td><td>\(pairing.codesShown)</td></tr>"
        }
        if rows.isEmpty { rows = "<tr><td colspan=\"6\">None.</td></tr>" }
        return """
            <section id="pairings"><h2>Pairings in progress <small data-cell="pairings:count">\(model.overview.pairings.count)</small></h2>
            <table><thead><tr><th scope="col">Tenant</th><th scope="col">Method</th><th scope="col">Instance</th><th scope="col">Started</th><th scope="col">Ends by</th><th scope="col">Codes shown</th></tr></thead>
            <tbody>\(rows)</tbody></table></section>
            """
    }

    private static func time(_ date: Date) -> String {
        let text = date.formatted(Date.ISO8601FormatStyle())
        return "<time datetime=\"\(text)\">\(text.replacingOccurrences(of: "T", with: " "))</time>"
    }

    private static func escape(_ text: String) -> String {
        PairingPage.escape(text)
    }

    private static func html(_ status: HTTPResponse.Status, title: String, body: String) -> Response {
        let document = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(escape(title))</title>
            <style>\(style)</style></head>
            <body>\(body)</body></html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Frame-Options")!: "DENY",
                HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
            ],
            body: .init(byteBuffer: ByteBuffer(string: document))
        )
    }

    /// Nothing but this page's own inline style and script, and its event stream.
    private static let contentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    private static let style = """
        body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2129;margin:0}
        main{max-width:72rem;margin:1.5rem auto;padding:0 1rem}
        header{display:flex;align-items:baseline;gap:1rem}
        #live{color:#5b6270}
        main[data-live=live] #live{color:#0a7d32}
        main[data-live=stale] #live,main[data-live=expired] #live,main[data-live=closed] #live{color:#b3261e;font-weight:600}
        section{background:#fff;border-radius:10px;box-shadow:0 1px 4px #0002;padding:.75rem 1rem;margin:1rem 0;overflow-x:auto}
        h2{font-size:1.05rem;margin:.25rem 0 .5rem}
        h2 small{color:#5b6270;font-weight:400}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e4e6eb;white-space:nowrap}
        td{text-align:right}
        td.zero{color:#aab0ba}
        tfoot th,tfoot td{font-weight:600;border-bottom:0}
        """

    /// Follows the event stream and swaps in the sections the server rendered.
    private static let script = """
        (function () {
          var config = JSON.parse(document.getElementById("fleet-config").textContent);
          var main = document.getElementById("fleet");
          var live = document.getElementById("live");
          var body = document.getElementById("fleet-body");
          var updates = 0;
          function mark(state, text) { main.setAttribute("data-live", state); live.textContent = text; }
          var source = new EventSource(config.events_url);
          source.addEventListener("open", function () { mark("live", "Live"); });
          source.addEventListener("snapshot", function (event) {
            body.innerHTML = JSON.parse(event.data).html;
            updates += 1;
            main.setAttribute("data-updates", String(updates));
            mark("live", "Live · updated " + new Date().toLocaleTimeString());
          });
          source.addEventListener("unavailable", function () {
            mark("stale", "The database does not answer; these numbers may be old.");
          });
          source.addEventListener("expired", function () {
            source.close();
            mark("expired", "This link has expired. Ask for a new one: POST /admin/page/links.");
          });
          source.onerror = function () {
            if (source.readyState === EventSource.CLOSED) {
              if (main.getAttribute("data-live") !== "expired") { mark("closed", "Disconnected. Reload the page."); }
            } else {
              mark("reconnecting", "Reconnecting…");
            }
          };
        })();
        """
}
