use super::{Expect, ExpectPurpose};

// tutory: facts from /work/shared/seeds/004_41f726d93b5acddb.txt (quoted line numbers in comments)
//
// Two expressions, services first, then purposes (as the other operators' tables).
// Cookies are (name, lifetime) as tutory.toml declares them, in its order (storage
// entries included). Where the config departs from the policy because the law did
// (legal basis, Google's EU provider, transfer safeguard), the entry holds the
// config's value and the comment quotes what the policy says.

// Services
pub const SERVICES: &[Expect] = &[
    // L19-L23: "Wir, bzw. unser Hostinganbieter, erhebt auf Grundlage unserer berechtigten
    // Interessen im Sinne des Art. 6 Abs. 1 lit. f. DSGVO Daten über jeden Zugriff ...
    // (sogenannte Serverlogfiles)"; "dauerhaft gespeichert und erst mit der Löschung Ihres
    // jeweiligen Nutzeraccounts ebenfalls gelöscht"; host: "Hetzner Online GmbH ...
    // Industriestr. 25, 91710 Gunzenhausen".
    Expect {
        service: "server-logs",
        provider: Some("Hetzner Online GmbH"),
        country: Some("DE"),
        cookies: &[],
        retention: Some("gelöscht mit Ihrem Nutzerkonto"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // L29: "setzen wir einen sogenannten Session-Cookie" (only after login). The
    // policy names no cookie; `tutory_session` is the config's placeholder. No
    // legal basis given for the cookie; contract (the editor), § 25 Abs. 2 Nr. 2 TDDDG.
    Expect {
        service: "session",
        provider: None,
        country: None,
        cookies: &[("tutory_session", "session")],
        retention: None,
        transfers: &[],
        legal_basis: "contract",
    },
    // Not in the policy: Keksdose's own consent cookie (keksdose_<site>), 12 months
    // = [consent].lifetime; proof kept 3 years after expiry ([consent.proof_retention]).
    Expect {
        service: "keksdose",
        provider: None,
        country: None,
        cookies: &[("keksdose_tutory", "12mo")],
        retention: Some("drei Jahre nach ihrem Ablauf"),
        transfers: &[],
        legal_basis: "legal_obligation",
    },
    // L130-L148. L142-L143: "Userlike UG (haftungsbeschränkt) Unternehmensadresse:
    // Probsteigasse 44-46, D-50670 Köln." L136: "bewahren wir für 2 Jahre auf".
    // L138: "Art. 6 Abs. 1 lit. f DSGVO" -> consent (device storage, § 25 Abs. 1 TDDDG).
    // No third country named. Cookies: none in the policy; Userlike's FAQ.
    Expect {
        service: "userlike",
        provider: Some("Userlike UG (haftungsbeschränkt)"),
        country: Some("DE"),
        cookies: &[("uslk_umm_*_s", "1y"), ("uslk_umm_*", "persistent")],
        retention: Some("2 Jahre"),
        transfers: &[],
        legal_basis: "consent",
    },
    // L68-L77. L74: "Google LLC ... 1600 Amphitheatre Parkway, Mountain View, CA 94043,
    // USA (Drittland)" -> Google Ireland Limited for EU users; US transfer under the
    // DPF. L70: "berechtigten Interessen" -> consent. L72: "setzt Youtube ... keinen
    // Cookie" -> true only until playback; the config lists the player's storage and
    // youtube.com cookies (Google's cookie page). No retention stated.
    Expect {
        service: "youtube",
        provider: Some("Google Ireland Limited"),
        country: Some("IE"),
        cookies: &[
            ("yt-remote-*", "persistent"),
            ("yt-remote-*", "session"),
            ("ytidb::LAST_RESULT_ENTRY_KEY", "persistent"),
            ("VISITOR_INFO1_LIVE", "6mo"),
            ("VISITOR_PRIVACY_METADATA", "6mo"),
            ("YSC", "session"),
        ],
        retention: None,
        transfers: &[("US", "adequacy")],
        legal_basis: "consent",
    },
    // L53: browser sends the IP address to every image API; "gemäß Art. 6 Abs. 1
    // lit. b DSGVO" -> consent (US recipients without DPF/SCC: Art. 49 Abs. 1 lit. a;
    // provider cookies: § 25 Abs. 1 TDDDG). L53: each "ist in der Lage ... einen Cookie
    // zu setzen", none named. No retention stated for any image API.
    // L57: "https://www.flickr.com/ (Übermittlung in Drittland) Unternehmensangaben
    // SmugMug Inc., Suite 200, 67 E Evelyn Avenue, Mountain View, CA 94041, USA".
    Expect {
        service: "flickr",
        provider: Some("SmugMug, Inc."),
        country: Some("US"),
        cookies: &[],
        retention: None,
        transfers: &[("US", "consent")],
        legal_basis: "consent",
    },
    // L60: "https://pixabay.com/ (Übermittlung innerhalb der EU) Unternehmensangaben:
    // Hans Braxmeier & Simon Steinberger GbR, Donaustraße 13, 89231 Neu-Ulm".
    // Cookie: Cloudflare's documented `__cf_bm`.
    Expect {
        service: "pixabay",
        provider: Some("Hans Braxmeier & Simon Steinberger GbR"),
        country: Some("DE"),
        cookies: &[("__cf_bm", "30min")],
        retention: None,
        transfers: &[],
        legal_basis: "consent",
    },
    // L62: "https://commons.wikimedia.org/ (Übermittlung in Drittland)
    // Unternehmensangaben: Wikimedia Foundation, Inc., 1 Montgomery Street, Suite
    // 1600, San Francisco, CA 94104, USA". Cookies: Wikimedia Cookie Statement.
    Expect {
        service: "wikimedia-commons",
        provider: Some("Wikimedia Foundation, Inc."),
        country: Some("US"),
        cookies: &[
            ("WMF-Last-Access", "30d"),
            ("WMF-Last-Access-Global", "30d"),
            ("GeoIP", "session"),
        ],
        retention: None,
        transfers: &[("US", "consent")],
        legal_basis: "consent",
    },
    // L64: "https://openclipart.org/ (Übermittlung in Drittland) Unternehmensangaben:
    // Fabricatorz LLC, 1056 Grant Ave. #1 (2nd floor), San Francisco, CA 94133, USA".
    Expect {
        service: "openclipart",
        provider: Some("Fabricatorz LLC"),
        country: Some("US"),
        cookies: &[],
        retention: None,
        transfers: &[("US", "consent")],
        legal_basis: "consent",
    },
];

// Purposes
pub const PURPOSES: &[ExpectPurpose] = &[
    // L265-L296. L269: "Double-Opt-In-Verfahren". L280: "Wir können die
    // ausgetragenen E-Mailadressen bis zu drei Jahren ... speichern ..., um eine
    // ehemals gegebene Einwilligung nachweisen zu können" -> 3y after withdrawal.
    // L286: "Sendinblue GmbH Köpenicker Str. 126, 10179 Berlin" (Auftragsverarbeitung,
    // Art. 28 DSGVO). No third country named. L274: sending and the web beacon (L296)
    // rest on the same consent.
    ExpectPurpose {
        purpose: "newsletter",
        double_opt_in: true,
        proof_retention: Some(("3y", "withdrawal")),
        processors: &["Sendinblue GmbH"],
        transfers: &[],
    },
];
