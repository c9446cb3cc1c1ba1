// Passerelles: pre-registrations on training sessions (issue 20, the page). Plain JavaScript, no
// network beyond this API. Three views in the section #prescriptions:
//   - counsellor: "Pré-inscrire" on a session of a bridge's training plan (two clicks: the button,
//     then "Confirmer" in a small dialog), and the person's pre-registrations with their states;
//   - training organisation: the pre-registrations on its sessions (a pseudonym until accepted),
//     answered accepted / waitlisted / refused with a reason from the closed list;
//   - funder: the dashboard figures (aggregates only) with bar charts, and the xlsx export.
// Every text from the API goes in through textContent (the el() below), never innerHTML; no
// personal data in URLs except the opaque seeker id the API's filter needs.
"use strict";

(() => {
  const q = (selector, root = document) => root.querySelector(selector);
  const STORE = { counsellor: "passerelles-key", organisation: "passerelles-key-organisation",
                  funder: "passerelles-key-funder" };

  const STATES = {
    submitted: "envoyée", accepted: "acceptée", refused: "refusée", waitlisted: "en liste d'attente",
    withdrawn: "retirée", entered: "entrée en formation", completed: "formation terminée",
    abandoned: "formation abandonnée", "employed-target": "en emploi dans le métier visé",
    "employed-other": "en emploi dans un autre métier",
  };
  // The closed list of refusal reasons (api/services/prescription_service.py REFUSAL_REASONS).
  const REASONS = {
    "prerequisites-not-met": "prérequis non remplis", "session-full": "session complète",
    "no-show-at-information-meeting": "absence à la réunion d'information", "not-reachable": "personne injoignable",
    "funding-not-granted": "financement non accordé", "project-not-confirmed": "projet non confirmé", other: "autre",
  };
  const PRESCRIBERS = { "france-travail": "France Travail", "mission-locale": "Mission locale",
                        "cap-emploi": "Cap emploi", other: "Autre" };
  const titles = new Map(); // training id -> title, learnt from the plans shown or asked once

  // Fill each [data-training-title] node with its training's title (GET /trainings/{id} once per id).
  async function fillTitles(root, role) {
    for (const node of root.querySelectorAll("[data-training-title]")) {
      const id = node.dataset.trainingTitle;
      if (!titles.has(id)) {
        titles.set(id, id);
        try {
          const t = await call(role, `/trainings/${encodeURIComponent(id)}`);
          titles.set(id, t.title || id);
        } catch (error) { /* the id stays shown */ }
      }
      node.textContent = titles.get(id);
    }
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  function status(node, text, isError = false) {
    node.textContent = text;
    node.classList.toggle("error", isError);
  }

  const day = (iso) => (iso ? new Date(iso.slice(0, 10) + "T00:00:00Z").toLocaleDateString("fr-FR", { timeZone: "UTC" }) : "—");
  const percent = (x) => (x == null ? "—" : `${(100 * x).toFixed(1).replace(".", ",")} %`);

  // A fresh Idempotency-Key: 128 random bits in hex (crypto.getRandomValues works without HTTPS).
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "pr-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function keyOf(role) {
    if (role === "counsellor") {
      const field = q("#api-key");
      return (field && field.value.trim()) || sessionStorage.getItem(STORE.counsellor) || "";
    }
    const field = q(`#${role}-key`);
    return (field && field.value.trim()) || sessionStorage.getItem(STORE[role]) || "";
  }

  // fetch with the role's key; a problem+json answer becomes an Error with .status, .kind, .body.
  async function call(role, path, { method = "GET", body, headers = {}, raw = false } = {}) {
    const key = keyOf(role);
    const sent = { Accept: raw ? "*/*" : "application/json", ...headers };
    if (key) sent["X-API-Key"] = key;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
    if (raw && response.ok) return response;
    let parsed = null;
    try { parsed = await response.json(); } catch (e) { parsed = null; }
    if (!response.ok) {
      const error = new Error((parsed && (parsed.detail || parsed.title)) || `Erreur ${response.status}`);
      error.status = response.status;
      error.kind = parsed && typeof parsed.type === "string" ? parsed.type.split("/").pop() : "";
      error.body = parsed;
      throw error;
    }
    return parsed;
  }

  function explain(error, role) {
    if (error.status === 401) return `Clé d'accès manquante ou inconnue : saisissez une clé ${ROLE_NAMES[role]}.`;
    if (error.status === 403) return `Cette clé ne donne pas accès à cette vue (il faut une clé ${ROLE_NAMES[role]}). ${error.message}`;
    if (error.kind === "session-full") {
      return "Session complète : toutes les places de cette session sont prises. Mettez la personne en liste "
        + "d'attente ou refusez avec le motif « session complète ».";
    }
    if (error.kind === "already-pre-registered") return "Cette personne a déjà une pré-inscription en cours sur cette session.";
    if (error.kind === "transition-not-allowed") return `Réponse impossible dans l'état actuel : ${error.message}`;
    if (error.status === undefined) return `Le serveur ne répond pas (${error.message}) : réessayez.`;
    return error.message;
  }
  const ROLE_NAMES = { counsellor: "conseiller", organisation: "organisme de formation", funder: "financeur" };

  function stateBadge(state) {
    return el("span", { class: `state state-${state}`, "data-state": state }, STATES[state] || state);
  }

  // ---- 1. counsellor: pre-register from a plan ----------------------------------------------------
  let pending = null; // {training, session, title, target, idempotencyKey}

  function sessionText(s) {
    const when = s.start ? `du ${day(s.start)}${s.end ? " au " + day(s.end) : ""}` : "dates à préciser";
    const where = s.city || s.registration_city || "";
    const left = s.places_left ?? s.places;
    const places = left == null ? "places non précisées" : `${left} place${left > 1 ? "s" : ""} restante${left > 1 ? "s" : ""}`;
    return [when, where, places].filter(Boolean).join(" · ");
  }

  function dialog() {
    let node = q("#prescribe-dialog");
    if (node) return node;
    node = el("dialog", { id: "prescribe-dialog", "aria-labelledby": "prescribe-title" },
      el("form", { id: "prescribe-form", onsubmit: confirm },
        el("h3", { id: "prescribe-title" }, "Pré-inscrire sur une session"),
        el("p", { id: "prescribe-session", class: "meta" }),
        el("label", {}, "Personne à pré-inscrire (son identifiant)",
          el("input", { id: "prescribe-seeker", type: "text", required: true, autocomplete: "off", maxlength: 100 })),
        el("label", {}, "Métier visé",
          el("input", { id: "prescribe-target", type: "text", required: true, autocomplete: "off", maxlength: 20,
                        "aria-describedby": "prescribe-target-label" })),
        el("span", { id: "prescribe-target-label", class: "help" }),
        el("label", {}, "Note pour l'organisme (facultatif)",
          el("textarea", { id: "prescribe-note", maxlength: 2000, rows: 3 })),
        el("p", { id: "prescribe-status", class: "status", role: "status" }),
        el("div", { class: "actions" },
          el("button", { type: "submit" }, "Confirmer la pré-inscription"),
          el("button", { type: "button", class: "secondary", onclick: () => node.close() }, "Annuler"))));
    document.body.append(node);
    return node;
  }

  function openDialog(training, target) {
    const s = training.session;
    pending = { training: training.id, session: s.id, idempotencyKey: newKey() };
    const box = dialog();
    q("#prescribe-session", box).textContent =
      `${training.title || training.id}${training.organisation ? " — " + training.organisation : ""} · session ${s.id} · ${sessionText(s)}`;
    const seeker = q("#seeker-id");
    q("#prescribe-seeker", box).value = seeker ? seeker.value.trim() : "";
    q("#prescribe-target", box).value = target.code || "";
    q("#prescribe-target-label", box).textContent = target.label ? `${target.code} — ${target.label}` : "";
    q("#prescribe-note", box).value = "";
    status(q("#prescribe-status", box), "");
    box.showModal();
    const first = q("#prescribe-seeker", box).value ? q("button[type=submit]", box) : q("#prescribe-seeker", box);
    first.focus();
  }

  async function confirm(event) {
    event.preventDefault();
    const box = dialog();
    const line = q("#prescribe-status", box);
    const seeker = q("#prescribe-seeker", box).value.trim();
    const body = { seeker, training: pending.training, session: pending.session,
                   target: q("#prescribe-target", box).value.trim().toUpperCase(), origin: "bridge" };
    const note = q("#prescribe-note", box).value.trim();
    if (note) body.note = note;
    status(line, "Envoi…");
    try {
      const record = await call("counsellor", "/prescriptions", { method: "POST", body,
                                                                   headers: { "Idempotency-Key": pending.idempotencyKey } });
      box.close();
      const seekerField = q("#seeker-id");
      if (seekerField && !seekerField.value.trim()) seekerField.value = seeker;
      const input = q("#my-seeker");
      if (input) input.value = seeker;
      status(q("#plan-prescribe-status"), `Pré-inscription envoyée (${STATES[record.state] || record.state}) : `
        + `session ${record.session} de ${titles.get(record.training) || record.training}.`);
      showTab("counsellor");
      await loadMine();
    } catch (error) {
      // an answer that refuses the body: the next attempt is a new request (new key); no answer at
      // all (network, 5xx): the same key, so a retry cannot pre-register twice
      if (error.status !== undefined && error.status < 500) pending.idempotencyKey = newKey();
      status(line, explain(error, "counsellor"), true);
    }
  }

  // app.js announces each plan it draws: add the session and a "Pré-inscrire" button to its rows.
  document.addEventListener("passerelles:plan", (event) => {
    const { table, trainings, target } = event.detail;
    if (!table) return;
    const head = q("thead tr", table);
    head.append(el("th", { scope: "col" }, "Session"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Pré-inscription")));
    table.querySelectorAll("tbody tr").forEach((row, i) => {
      const t = trainings[i];
      if (!t) return;
      titles.set(t.id, t.title || t.id);
      row.dataset.training = t.id;
      if (!t.session) {
        row.append(el("td", { class: "session" }, t.permanent_entry ? "entrée permanente, sans session" : "sans session"), el("td"));
        return;
      }
      row.dataset.session = t.session.id;
      row.append(el("td", { class: "session" }, el("strong", {}, t.session.id), " ", sessionText(t.session)),
        el("td", {}, el("button", { type: "button", class: "prescribe", onclick: () => openDialog(t, target),
                                    "aria-label": `Pré-inscrire sur la session ${t.session.id} de ${t.title || t.id}` },
                        "Pré-inscrire")));
    });
    const line = q("#plan-prescribe-status") || el("p", { id: "plan-prescribe-status", class: "status", role: "status" });
    status(line, "");
    table.after(line);
  });

  // The person's pre-registrations (counsellor).
  async function loadMine(event) {
    if (event) event.preventDefault();
    const panel = q("#prescriptions-counsellor");
    const line = q(".status", panel);
    const seeker = q("#my-seeker").value.trim() || (q("#seeker-id") ? q("#seeker-id").value.trim() : "");
    if (!seeker) { status(line, "Saisissez l'identifiant de la personne.", true); return; }
    q("#my-seeker").value = seeker;
    const key = q("#api-key") && q("#api-key").value.trim();
    if (key) sessionStorage.setItem(STORE.counsellor, key);
    status(line, "Chargement…");
    try {
      const body = await call("counsellor", `/prescriptions?seeker=${encodeURIComponent(seeker)}&limit=100`);
      const items = body.items || [];
      const rows = items.map((p) => el("tr", { "data-id": p.id, "data-state": p.state },
        el("td", {}, el("span", { "data-training-title": p.training }, titles.get(p.training) || p.training),
          el("span", { class: "counts" }, `${p.training} · session ${p.session}`),
          p.note ? el("span", { class: "counts note" }, `note : ${p.note}`) : ""),
        el("td", {}, p.target),
        el("td", {}, stateBadge(p.state), p.reason ? el("span", { class: "counts" }, `motif : ${REASONS[p.reason] || p.reason}`) : ""),
        el("td", {}, day(p.submitted_at)), el("td", {}, day(p.answered_at)),
        el("td", {}, (p.allowed || []).includes("withdrawn")
          ? el("button", { type: "button", class: "secondary", onclick: () => answer("counsellor", p, { to: "withdrawn" }, loadMine) }, "Retirer")
          : "")));
      q("tbody", panel).replaceChildren(...rows);
      q("table", panel).hidden = !rows.length;
      status(line, rows.length ? `${body.total ?? rows.length} pré-inscription(s) de ${seeker}` : `Aucune pré-inscription pour ${seeker}.`);
      fillTitles(panel, "counsellor");
    } catch (error) { status(line, explain(error, "counsellor"), true); }
  }

  // ---- 2. training organisation: answer --------------------------------------------------------------
  async function answer(role, record, change, reload) {
    const panel = q(role === "organisation" ? "#prescriptions-organisation" : "#prescriptions-counsellor");
    const line = q(".status", panel);
    try {
      const out = await call(role, `/prescriptions/${encodeURIComponent(record.id)}/transitions`, { method: "POST", body: change });
      const promoted = (out.changed || []).filter((c) => c.id !== record.id && c.state === "accepted").length;
      await reload();
      status(line, `Réponse enregistrée : ${STATES[out.state] || out.state}.`
        + (promoted ? " La place libérée est allée à la première personne de la liste d'attente." : ""));
    } catch (error) {
      status(line, explain(error, role), true);
      const row = q(`tr[data-id="${CSS.escape(record.id)}"]`, panel);
      if (row) { row.classList.add("failed"); q(".row-error", row).textContent = explain(error, role); }
    }
  }

  function person(p) {
    if (!p.contact && !p.prescriber_key) return el("span", { class: "pseudonym", title: "Pseudonyme : l'identité est transmise après acceptation" }, p.seeker);
    const c = p.contact || {};
    const lines = [c.name, c.phone, c.email].filter(Boolean);
    return el("span", {}, el("span", { class: "pseudonym" }, p.seeker),
      el("span", { class: "counts contact" }, lines.length ? lines.join(" · ") : `contact par le prescripteur (clé ${p.prescriber_key})`));
  }

  // Follow-up moves an organisation may also make (dated today by the server).
  const FOLLOW = { entered: "Entrée en formation", completed: "Formation terminée", abandoned: "Abandon" };

  function answerCell(p) {
    const allowed = p.allowed || [];
    const cell = el("div", { class: "answers" });
    if (allowed.includes("accepted")) cell.append(el("button", { type: "button", onclick: () => answer("organisation", p, { to: "accepted" }, loadOrganisation) }, "Accepter"));
    if (allowed.includes("waitlisted")) cell.append(el("button", { type: "button", class: "secondary", onclick: () => answer("organisation", p, { to: "waitlisted" }, loadOrganisation) }, "Liste d'attente"));
    if (allowed.includes("refused")) {
      const select = el("select", { "aria-label": `Motif du refus (${p.seeker})` },
        el("option", { value: "" }, "Motif du refus…"),
        ...Object.entries(REASONS).map(([value, label]) => el("option", { value }, label)));
      cell.append(select, el("button", { type: "button", class: "secondary", onclick: () => {
        if (!select.value) { status(q("#prescriptions-organisation .status"), "Choisissez le motif du refus.", true); select.focus(); return; }
        answer("organisation", p, { to: "refused", reason: select.value }, loadOrganisation);
      } }, "Refuser"));
    }
    for (const [to, label] of Object.entries(FOLLOW)) {
      if (allowed.includes(to)) cell.append(el("button", { type: "button", class: "secondary", onclick: () => answer("organisation", p, { to }, loadOrganisation) }, label));
    }
    if (!allowed.length) cell.append("—");
    cell.append(el("span", { class: "row-error", role: "alert" }));
    return el("td", {}, cell);
  }

  async function loadOrganisation(event) {
    if (event) event.preventDefault();
    const panel = q("#prescriptions-organisation");
    const line = q(".status", panel);
    const key = q("#organisation-key").value.trim();
    if (key) sessionStorage.setItem(STORE.organisation, key);
    const params = new URLSearchParams({ limit: "100" });
    if (q("#organisation-state").value) params.set("state", q("#organisation-state").value);
    status(line, "Chargement…");
    try {
      const body = await call("organisation", `/prescriptions?${params}`);
      const rows = (body.items || []).map((p) => el("tr", { "data-id": p.id, "data-state": p.state },
        el("td", {}, person(p)),
        el("td", {}, el("span", { "data-training-title": p.training }, titles.get(p.training) || p.training),
          el("span", { class: "counts" }, `${p.training} · session ${p.session}`)),
        el("td", {}, p.target), el("td", {}, PRESCRIBERS[p.prescriber_type] || p.prescriber_type),
        el("td", {}, day(p.submitted_at)),
        el("td", {}, stateBadge(p.state), p.reason ? el("span", { class: "counts" }, `motif : ${REASONS[p.reason] || p.reason}`) : ""),
        answerCell(p)));
      q("tbody", panel).replaceChildren(...rows);
      q("table", panel).hidden = !rows.length;
      status(line, rows.length ? `${body.total ?? rows.length} pré-inscription(s) sur vos sessions`
        : "Aucune pré-inscription sur vos sessions.");
      fillTitles(panel, "organisation");
    } catch (error) { q("tbody", panel).replaceChildren(); q("table", panel).hidden = true; status(line, explain(error, "organisation"), true); }
  }

  // ---- 3. funder: figures and charts ---------------------------------------------------------------
  // A horizontal bar chart in inline SVG: items [{label, value, text, secret}], values in [0, max].
  // An item under the statistical secret gets no bar at all (never a bar of 0): its row reads "secret".
  function barChart(id, caption, items, max) {
    const ns = "http://www.w3.org/2000/svg", rowH = 26, left = 210, width = 640, barW = width - left - 90;
    const svg = document.createElementNS(ns, "svg");
    const height = Math.max(items.length, 1) * rowH + 8;
    const set = (node, attrs) => { for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v); return node; };
    set(svg, { id, role: "img", viewBox: `0 0 ${width} ${height}`, "aria-labelledby": `${id}-caption`, class: "bars" });
    const scale = max > 0 ? max : Math.max(...items.filter((i) => !i.secret).map((i) => i.value), 1);
    items.forEach((item, i) => {
      const y = 4 + i * rowH;
      const label = set(document.createElementNS(ns, "text"), { x: left - 8, y: y + 16, "text-anchor": "end", "font-size": 12 });
      label.textContent = item.label.length > 32 ? item.label.slice(0, 31) + "…" : item.label;
      if (item.secret) {
        const mark = set(document.createElementNS(ns, "text"), { x: left, y: y + 16, "font-size": 12, "font-style": "italic",
                                                               fill: "#5a5a5a", class: "secret", "data-secret": "true" });
        mark.textContent = SECRET;
        const tip = document.createElementNS(ns, "title"); tip.textContent = `${item.label} : ${secretNote}`; mark.append(tip);
        svg.append(label, mark);
        return;
      }
      const w = Math.max(0, Math.min(1, (item.value || 0) / scale)) * barW;
      const bar = set(document.createElementNS(ns, "rect"), { x: left, y: y + 3, width: w.toFixed(1), height: rowH - 8, fill: "#0b4f9c", "data-value": item.value ?? 0 });
      const tip = document.createElementNS(ns, "title"); tip.textContent = `${item.label} : ${item.text}`; bar.append(tip);
      const value = set(document.createElementNS(ns, "text"), { x: left + w + 6, y: y + 16, "font-size": 12 });
      value.textContent = item.text;
      svg.append(label, bar, value);
    });
    return el("figure", { class: "chart" }, svg, el("figcaption", { id: `${id}-caption` }, caption));
  }

  // The statistical secret: a count of fewer than k people, or one a total would reveal, comes as
  // null and is named in its row's "secret" list; it reads "secret" everywhere, never 0 nor blank.
  const SECRET = "secret";
  let secretNote = "secret statistique";
  const hidden = (row, field) => Boolean(row && Array.isArray(row.secret) && row.secret.includes(field));
  const shown = (row, field, format = String) => (hidden(row, field) ? SECRET : format(row[field] ?? 0));

  function figure(label, value) { return [el("dt", {}, label), el("dd", {}, value)]; }

  function countTable(caption, head, rows) {
    return el("table", { class: "plan" }, el("caption", {}, caption),
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
  }

  async function loadFunder(event) {
    if (event) event.preventDefault();
    const panel = q("#prescriptions-funder");
    const line = q(".status", panel);
    const key = q("#funder-key").value.trim();
    if (key) sessionStorage.setItem(STORE.funder, key);
    status(line, "Chargement…");
    try {
      const d = await call("funder", "/funders/dashboard?limit=20");
      const out = d.outcomes_at_six_months || {};
      const sessions = (d.sessions && d.sessions.items) || [];
      const k = (d.statistical_secret && d.statistical_secret.threshold) || 5;
      secretNote = `secret statistique : moins de ${k} personnes, ou masqué pour qu'un total ne révèle pas une autre case`;
      const tension = d.in_tension, answers = d.answers;
      const total = shown(d, "pre_registrations");
      q("#funder-figures").replaceChildren(
        el("dl", { class: "figures" },
          figure("Pré-inscriptions", total),
          figure("Vers un métier en tension du bassin", hidden(tension, "share") ? SECRET
            : `${percent(tension.share)} (${tension.pre_registrations})`),
          figure("Délai médian de réponse", hidden(answers, "median_days_to_answer") ? SECRET
            : answers.median_days_to_answer == null ? "—"
            : `${String(answers.median_days_to_answer).replace(".", ",")} jour(s) (${answers.answered} réponse(s))`),
          figure("À six mois (au " + day(out.as_of) + ")", `${shown(out, "employed-target")} en emploi dans le métier visé · `
            + `${shown(out, "employed-other")} dans un autre métier · ${shown(out, "none")} sans emploi enregistré`)),
        el("p", { class: "secret-note", id: "funder-secret" },
          `« ${SECRET} » : ${secretNote} (aucun graphique ne le dessine comme un 0).`),
        barChart("chart-fill", "Taux de remplissage par session (places prises / places)",
          sessions.map((s) => ({ label: `${s.training} · ${s.session}`, value: s.fill_rate ?? 0,
                                 secret: hidden(s, "fill_rate"),
                                 text: hidden(s, "fill_rate") ? (s.places == null ? `${SECRET}, places non précisées` : SECRET)
                                   : s.fill_rate == null ? `${s.accepted} acceptée(s), places non précisées`
                                   : `${percent(s.fill_rate)} (${s.accepted}/${s.places})` })), 1),
        barChart("chart-prescribers", "Pré-inscriptions par type de prescripteur",
          d.by_prescriber_type.map((p) => ({ label: PRESCRIBERS[p.prescriber_type] || p.prescriber_type, value: p.pre_registrations,
                                             secret: hidden(p, "pre_registrations"), text: shown(p, "pre_registrations") })), 0),
        el("div", { class: "columns" },
          countTable("Par bassin", ["Bassin", "Pré-inscriptions", "Vers la tension"],
            d.by_basin.map((b) => [b.basin, shown(b, "pre_registrations"), shown(b, "in_tension")])),
          countTable("Par métier visé", ["Métier", "Pré-inscriptions", "Vers la tension"],
            d.by_occupation.map((o) => [`${o.occupation}${o.label ? " — " + o.label : ""}`, shown(o, "pre_registrations"),
                                        shown(o, "in_tension")]))));
      status(line, `Tableau de bord : ${total === SECRET ? "nombre de pré-inscriptions sous secret statistique"
        : `${total} pré-inscription(s)`}, ${d.sessions ? d.sessions.total : 0} session(s).`);
    } catch (error) { q("#funder-figures").replaceChildren(); status(line, explain(error, "funder"), true); }
  }

  async function exportXlsx() {
    const line = q("#prescriptions-funder .status");
    try {
      const response = await call("funder", "/funders/dashboard?format=xlsx&limit=500", { raw: true });
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: "pre-inscriptions.xlsx", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) { status(line, explain(error, "funder"), true); }
  }

  // ---- the section and its three tabs ----------------------------------------------------------------
  function showTab(name) {
    document.querySelectorAll("#prescriptions [role=tab]").forEach((tab) => {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      q(`#prescriptions-${tab.dataset.tab}`).hidden = !on;
    });
  }

  function keyField(role, label) {
    return el("label", {}, label, el("input", { id: `${role}-key`, type: "password", autocomplete: "off",
                                                value: sessionStorage.getItem(STORE[role]) || "" }));
  }

  function build(section) {
    const tab = (name, label) => el("button", { type: "button", role: "tab", id: `tab-${name}`, "data-tab": name,
                                               "aria-controls": `prescriptions-${name}`, onclick: () => showTab(name) }, label);
    const tabs = el("div", { role: "tablist", class: "tabs", "aria-label": "Vues des pré-inscriptions" },
      tab("counsellor", "Conseiller"), tab("organisation", "Organisme de formation"), tab("funder", "Financeur"));
    tabs.addEventListener("keydown", (event) => {
      const names = ["counsellor", "organisation", "funder"];
      const at = names.indexOf(document.activeElement.dataset.tab);
      if (at < 0 || !["ArrowRight", "ArrowLeft"].includes(event.key)) return;
      const next = names[(at + (event.key === "ArrowRight" ? 1 : names.length - 1)) % names.length];
      showTab(next); q(`#tab-${next}`).focus();
    });
    const table = (head) => el("div", { class: "table-wrap" }, el("table", { hidden: true },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))), el("tbody")));
    const stateOptions = [el("option", { value: "" }, "Tous les états"),
      ...Object.entries(STATES).map(([value, label]) => el("option", { value }, label))];
    section.replaceChildren(
      el("h2", { id: "prescriptions-title" }, "Pré-inscriptions en formation"),
      tabs,
      el("div", { id: "prescriptions-counsellor", role: "tabpanel", "aria-labelledby": "tab-counsellor" },
        el("p", { class: "help" }, "Pré-inscrivez depuis le plan de formation d'une passerelle (bouton « Pré-inscrire » d'une session) ; "
          + "la clé est celle du conseiller (section « Offres pour une personne accompagnée »)."),
        el("form", { class: "filters", onsubmit: loadMine },
          el("label", {}, "Personne suivie (son identifiant)", el("input", { id: "my-seeker", type: "text", autocomplete: "off" })),
          el("button", { type: "submit" }, "Voir ses pré-inscriptions")),
        el("p", { class: "status", role: "status" }),
        table(["Formation", "Métier visé", "État", "Envoyée le", "Réponse le", ""])),
      el("div", { id: "prescriptions-organisation", role: "tabpanel", "aria-labelledby": "tab-organisation", hidden: true },
        el("form", { class: "filters", onsubmit: loadOrganisation },
          keyField("organisation", "Clé d'accès de l'organisme"),
          el("label", {}, "État", el("select", { id: "organisation-state" }, ...stateOptions)),
          el("button", { type: "submit" }, "Voir les pré-inscriptions")),
        el("p", { class: "help" }, "La personne apparaît sous un pseudonyme jusqu'à son acceptation ; ses coordonnées sont alors transmises."),
        el("p", { class: "status", role: "status" }),
        table(["Personne", "Formation", "Métier visé", "Prescripteur", "Envoyée le", "État", "Réponse"])),
      el("div", { id: "prescriptions-funder", role: "tabpanel", "aria-labelledby": "tab-funder", hidden: true },
        el("form", { class: "filters", onsubmit: loadFunder },
          keyField("funder", "Clé d'accès du financeur"),
          el("button", { type: "submit" }, "Voir le tableau de bord"),
          el("button", { type: "button", class: "secondary", id: "funder-export", onclick: exportXlsx }, "Exporter (xlsx)")),
        el("p", { class: "help" }, "Des chiffres agrégés seulement : aucune donnée personnelle."),
        el("p", { class: "status", role: "status" }),
        el("div", { id: "funder-figures" })));
    showTab("counsellor");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = q("#prescriptions");
    if (section) build(section);
  });
})();
