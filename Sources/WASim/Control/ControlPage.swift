/// The simulator's web page (`GET /`): the phone, contacts, groups, faults and stats, as plain HTML and a little script over the control API.
enum ControlPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>pairgate sim — simulated phone</title>
    <style>
      body { font: 15px/1.4 system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1b1b1b; }
      h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; border-bottom: 1px solid #ddd; }
      textarea, input, select { font: inherit; padding: .3rem; }
      textarea { width: 100%; height: 4.5rem; box-sizing: border-box; }
      input[type=number] { width: 5rem; }
      button { font: inherit; padding: .3rem .8rem; cursor: pointer; }
      .row { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .4rem 0; }
      .out { white-space: pre-wrap; background: #f5f5f5; padding: .5rem; border-radius: 4px; min-height: 1.2rem; }
      .error { color: #a00000; } .ok { color: #006400; }
      table { border-collapse: collapse; } td, th { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
      code { word-break: break-all; }
    </style>
    </head>
    <body>
    <h1>pairgate sim — simulated phone and contacts</h1>
    <p>Root public key (give it to the gateway as its trusted root): <code id="root">…</code></p>

    <h2>Scan a QR code</h2>
    <form id="scan">
      <label for="qr">QR string (<code>https://wa.me/settings/linked_devices#…</code> or the older 4-field form)</label>
      <textarea id="qr" name="qr" required></textarea>
      <div class="row">
        <label>Phone number <input id="scan-phone" name="phone" placeholder="15551234567" inputmode="numeric"></label>
        <button type="submit">Scan</button>
      </div>
      <div class="out" id="scan-out" role="status"></div>
    </form>

    <h2>Enter a pairing code</h2>
    <form id="code">
      <div class="row">
        <label>Phone number <input id="code-phone" name="phone" required placeholder="15551234567" inputmode="numeric"></label>
        <label>Code <input id="code-value" name="code" required placeholder="ABCD-EFGH" size="10"></label>
        <button type="submit">Link</button>
      </div>
      <div class="out" id="code-out" role="status"></div>
    </form>

    <h2>Linked devices</h2>
    <form id="devices">
      <div class="row">
        <label>Phone number <input id="devices-phone" name="phone" required placeholder="15551234567" inputmode="numeric"></label>
        <button type="submit">List</button>
      </div>
      <table id="devices-table" hidden>
        <thead><tr><th>Device</th><th>LID</th><th>OS</th><th>Linked</th><th>Online</th><th></th></tr></thead>
        <tbody></tbody>
      </table>
      <div class="out" id="devices-out" role="status"></div>
    </form>

    <h2>Contacts</h2>
    <form id="contact">
      <div class="row">
        <label>Phone number <input id="contact-phone" placeholder="random" inputmode="numeric"></label>
        <label>Name <input id="contact-name" placeholder="Contact 1234"></label>
        <label><input type="checkbox" id="contact-reads" checked> Sends read receipts</label>
        <button type="submit">Create or update</button>
        <button type="button" id="contacts-list">List</button>
      </div>
      <table id="contacts-table" hidden>
        <thead><tr><th>Phone</th><th>LID</th><th>Name</th><th>Sent</th><th>Received</th><th>Duplicates</th><th>Reads</th></tr></thead>
        <tbody></tbody>
      </table>
      <div class="out" id="contact-out" role="status"></div>
    </form>

    <h2>Send a message</h2>
    <form id="send">
      <div class="row">
        <select id="send-kind" aria-label="Who writes">
          <option value="contact">a contact writes to an account</option>
          <option value="phone">the account's own phone writes to a contact</option>
        </select>
        <label>Contact <input id="send-contact" required placeholder="15557654321" inputmode="numeric"></label>
        <label>Account <input id="send-account" placeholder="15551234567" inputmode="numeric"></label>
        <label>Addressing <select id="send-addressing"><option>lid</option><option>pn</option></select></label>
      </div>
      <label for="send-text">Text</label>
      <textarea id="send-text" required></textarea>
      <div class="row"><button type="submit">Send</button></div>
      <div class="out" id="send-out" role="status"></div>
    </form>

    <h2>Groups</h2>
    <form id="group">
      <div class="row">
        <label>Account <input id="group-account" placeholder="15551234567" inputmode="numeric"></label>
        <label>Member contacts <input id="group-members" required placeholder="15557654321, 15557654322" size="30"></label>
        <label>Subject <input id="group-subject"></label>
        <button type="submit">Create</button>
        <button type="button" id="groups-list">List</button>
      </div>
      <table id="groups-table" hidden>
        <thead><tr><th>Group</th><th>Subject</th><th>Account</th><th>Members</th></tr></thead>
        <tbody></tbody>
      </table>
      <div class="out" id="group-out" role="status"></div>
    </form>
    <form id="group-send">
      <div class="row">
        <label>Group <input id="group-send-id" required placeholder="120363…@g.us" size="30"></label>
        <label>From contact <input id="group-send-from" required placeholder="15557654321" inputmode="numeric"></label>
      </div>
      <label for="group-send-text">Text</label>
      <textarea id="group-send-text" required></textarea>
      <div class="row"><button type="submit">Send to the group</button></div>
      <div class="out" id="group-send-out" role="status"></div>
    </form>

    <h2>Faults</h2>
    <form id="faults">
      <div class="row">
        <select id="fault-kind" name="kind"></select>
        <label>for the next <input id="fault-count" name="count" type="number" min="1" value="1" size="4"> connections</label>
        <label>device <input id="fault-device" name="device" placeholder="any"></label>
        <button type="submit">Arm</button>
        <button type="button" id="faults-clear">Clear all faults</button>
      </div>
      <div class="out" id="faults-out" role="status"></div>
    </form>

    <h2>Stats</h2>
    <div class="row"><button type="button" id="stats-refresh">Refresh</button></div>
    <div class="out" id="stats-out"></div>

    <script>
    const $ = (id) => document.getElementById(id);
    const kinds = ["refuse_connection", "drop_handshake", "delay_handshake", "stream_error_515", "stream_error_503",
                   "conflict_replaced", "device_removed", "failure_405", "unlink", "slow_keepalive", "missing_keepalive",
                   "undecryptable_message", "retry_receipt", "rate_overlimit", "withhold_ack"];
    for (const kind of kinds) { const o = document.createElement("option"); o.value = o.textContent = kind; $("fault-kind").append(o); }

    async function call(method, path, body) {
      const response = await fetch(path, {
        method, headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined
      });
      const text = await response.text();
      const data = text ? JSON.parse(text) : null;
      if (!response.ok) { throw new Error((data && (data.detail || data.title)) || response.statusText); }
      return data;
    }
    function show(id, promise, render) {
      const out = $(id);
      out.className = "out"; out.textContent = "…";
      promise.then((data) => { out.className = "out ok"; out.textContent = render(data); })
             .catch((error) => { out.className = "out error"; out.textContent = error.message; });
    }

    call("GET", "/root-key").then((data) => { $("root").textContent = data.publicKey; });
    call("GET", "/phones").then((data) => {
      for (const id of ["scan-phone", "code-phone", "devices-phone", "send-account", "group-account"]) { $(id).placeholder = data.defaultPhone; }
      $("devices-phone").value = data.defaultPhone;
    });

    $("scan").addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { qr: $("qr").value.trim() };
      if ($("scan-phone").value.trim()) body.phone = $("scan-phone").value.trim();
      show("scan-out", call("POST", "/phone/scan", body), (d) => d.device ? "Linked " + d.device.jid : d.status);
    });
    $("code").addEventListener("submit", (event) => {
      event.preventDefault();
      show("code-out", call("POST", "/phone/code", { phone: $("code-phone").value.trim(), code: $("code-value").value.trim() }),
           (d) => "Code accepted: " + d.status);
    });

    function listDevices() {
      const phone = $("devices-phone").value.trim() || $("devices-phone").placeholder;
      show("devices-out", call("GET", "/phones/" + encodeURIComponent(phone) + "/devices").then((d) => {
        const body = $("devices-table").querySelector("tbody");
        body.replaceChildren();
        for (const device of d.devices) {
          const row = document.createElement("tr");
          for (const value of [device.jid, device.lid, device.os, device.linkedAt, device.online ? "yes" : "no"]) {
            const cell = document.createElement("td"); cell.textContent = value ?? ""; row.append(cell);
          }
          const cell = document.createElement("td");
          const button = document.createElement("button");
          button.type = "button"; button.textContent = "Unlink";
          button.addEventListener("click", () => {
            show("devices-out", call("DELETE", "/phones/" + encodeURIComponent(phone) + "/devices/" + device.id)
              .then(() => { listDevices(); return "Unlinked " + device.jid; }), (text) => text);
          });
          cell.append(button); row.append(cell); body.append(row);
        }
        $("devices-table").hidden = d.devices.length === 0;
        return d.devices.length + " linked device(s)";
      }), (text) => text);
    }
    $("devices").addEventListener("submit", (event) => { event.preventDefault(); listDevices(); });

    $("faults").addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { kind: $("fault-kind").value, count: Number($("fault-count").value) || 1 };
      if ($("fault-device").value.trim()) body.device = $("fault-device").value.trim();
      show("faults-out", call("POST", "/faults", body), (d) => "Armed: " + d.armed.map((f) => f.kind + " ×" + f.remaining).join(", "));
    });
    $("faults-clear").addEventListener("click", () => {
      show("faults-out", call("DELETE", "/faults"), () => "No faults armed, no schedule.");
    });

    function fillTable(table, rows) {
      const body = $(table).querySelector("tbody");
      body.replaceChildren();
      for (const values of rows) {
        const row = document.createElement("tr");
        for (const value of values) { const cell = document.createElement("td"); cell.textContent = value ?? ""; row.append(cell); }
        body.append(row);
      }
      $(table).hidden = rows.length === 0;
    }
    function listContacts() {
      show("contact-out", call("GET", "/contacts").then((d) => {
        fillTable("contacts-table", d.contacts.map((c) => [c.phone, c.lid, c.name, c.sent, c.received, c.duplicates, c.readReceipts ? "yes" : "no"]));
        return d.contacts.length + " contact(s)";
      }), (text) => text);
    }
    $("contact").addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {};
      if ($("contact-phone").value.trim()) body.phone = $("contact-phone").value.trim();
      if ($("contact-name").value.trim()) body.name = $("contact-name").value.trim();
      body.readReceipts = $("contact-reads").checked;
      show("contact-out", call("POST", "/contacts", body).then((c) => {
        $("send-contact").value = c.phone; listContacts(); return c;
      }), (c) => "Contact " + c.phone + " (" + c.lid + ", " + c.name + ")");
    });
    $("contacts-list").addEventListener("click", listContacts);

    function sent(d) {
      return "Message " + d.id + " queued for " + d.devices.length + " device(s)"
        + (d.devices.length ? ": " + d.devices.join(", ") : "")
        + (d.unreachable.length ? "; unreachable: " + d.unreachable.join(", ") : "");
    }
    $("send").addEventListener("submit", (event) => {
      event.preventDefault();
      const contact = $("send-contact").value.trim();
      const account = $("send-account").value.trim() || $("send-account").placeholder;
      const text = $("send-text").value;
      const addressing = $("send-addressing").value;
      const request = $("send-kind").value === "contact"
        ? call("POST", "/contacts/" + encodeURIComponent(contact) + "/send", { to: account, text, addressing })
        : call("POST", "/phones/" + encodeURIComponent(account) + "/send", { to: contact, text, addressing });
      show("send-out", request, sent);
    });

    function listGroups() {
      show("group-out", call("GET", "/groups").then((d) => {
        fillTable("groups-table", d.groups.map((g) => [g.id, g.subject, g.account, g.members.join(", ")]));
        return d.groups.length + " group(s)";
      }), (text) => text);
    }
    $("group").addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {
        account: $("group-account").value.trim() || $("group-account").placeholder,
        members: $("group-members").value.split(",").map((m) => m.trim()).filter((m) => m)
      };
      if ($("group-subject").value.trim()) body.subject = $("group-subject").value.trim();
      show("group-out", call("POST", "/groups", body).then((g) => {
        $("group-send-id").value = g.id; listGroups(); return g;
      }), (g) => "Group " + g.id + " created");
    });
    $("groups-list").addEventListener("click", listGroups);
    $("group-send").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("group-send-id").value.trim();
      show("group-send-out", call("POST", "/groups/" + encodeURIComponent(id) + "/send",
        { from: $("group-send-from").value.trim(), text: $("group-send-text").value }), sent);
    });

    function refreshStats() { show("stats-out", call("GET", "/stats"), (d) => JSON.stringify(d, null, 2)); }
    $("stats-refresh").addEventListener("click", refreshStats);
    refreshStats();
    </script>
    </body>
    </html>
    """#
}
