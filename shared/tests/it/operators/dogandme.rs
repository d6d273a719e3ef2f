use super::{Expect, ExpectPurpose};

// dog and me Coaching: facts from /work/shared/seeds/001_912a33ce5dc8f65f.txt (quoted line numbers in comments)
//
// Values are as in dogandme.toml; where that differs from the policy's words
// because the law or the service changed, the comment says what the policy says.

// Services
pub const SERVICES: &[Expect] = &[
    // l. 20-30, 118-129: server log files; l. 74-78: cookies "zur technisch fehlerfreien
    // und optimierten Bereitstellung" on Art. 6 Abs. 1 lit. f. No cookie named, no
    // retention stated; hosting by unnamed processors (l. 32).
    Expect {
        service: "website",
        provider: None,
        country: None,
        cookies: &[],
        retention: None,
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 24, 38-40: "ist unser berechtigtes Interesse die Bearbeitung Ihres Anliegens";
    // l. 50: "werden nach Erledigung gemäß gesetzlichen Vorschriften gelöscht".
    Expect {
        service: "contact-form",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("nach Erledigung gemäß den gesetzlichen Vorschriften gelöscht"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 44: "Kommt kein Vertragsverhältnis zustande, werden die Daten innerhalb 4 Wochen
    // wieder gelöscht." No legal basis stated; that of l. 40 is used.
    Expect {
        service: "callback",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("innerhalb 4 Wochen wieder gelöscht"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 58: "auf Grundlage einer Interessenabwägung"; "nach Erledigung der von Ihnen
    // gestellten Anfrage gemäß den gesetzlichen Vorgaben gelöscht". No provider named.
    Expect {
        service: "chat",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("nach Erledigung Ihrer Anfrage gemäß den gesetzlichen Vorgaben gelöscht"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 131-151: customer account "um den ... Vertrag ... zu erfüllen" (lit. b, l. 137-139);
    // l. 151: "Nach Beendigung des Vertrages werden die Daten innerhalb 4 Wochen nach
    // Vertragsbeendigung gelöscht." The policy names no cookie: `dogandme_session` is the
    // config's placeholder for the login's session cookie (l. 74: "Session-Cookies").
    Expect {
        service: "customer-portal",
        provider: None,
        country: None,
        cookies: &[("dogandme_session", "session")],
        retention: Some("innerhalb 4 Wochen nach Vertragsbeendigung gelöscht"),
        transfers: &[],
        legal_basis: "contract",
    },
    // Not in the policy: the consent banner itself (Art. 7 Abs. 1 DSGVO, lit. c); proof
    // kept 3 years after the decision expires (consent.proof_retention).
    Expect {
        service: "keksdose",
        provider: None,
        country: None,
        cookies: &[("keksdose_dogandme", "12mo")],
        retention: Some("3 Jahre nach ihrem Ablauf"),
        transfers: &[],
        legal_basis: "legal_obligation",
    },
    // l. 80-92: "Google Ireland Limited, Gordon House, Barrow Street, Dublin 4, Irland" (l. 82);
    // cookies "verlieren nach 30 Tagen ihre Gültigkeit" (l. 84) — gtag.js sets _gcl_aw and
    // _gcl_au for 90 days by default; the site's tag sets 30 days (cookie_expires), as the
    // policy states; l. 88: lit. f, now consent
    // (§ 25 Abs. 1 TDDDG). No transfer stated; Google LLC (US) is DPF-certified.
    Expect {
        service: "google-ads",
        provider: Some("Google Ireland Limited"),
        country: Some("IE"),
        cookies: &[("_gcl_aw", "30d"), ("_gcl_au", "30d")],
        retention: None,
        transfers: &[("US", "adequacy")],
        legal_basis: "consent",
    },
    // l. 104: "Facebook Inc., 1601 S California Ave, Palo Alto" — for the EU today Meta
    // Platforms Ireland Limited; l. 100: lit. f, now consent; l. 114: Privacy Shield,
    // now DPF (Meta is certified). Cookies: Meta's cookie policy (none in the policy).
    Expect {
        service: "facebook",
        provider: Some("Meta Platforms Ireland Limited"),
        country: Some("IE"),
        cookies: &[("datr", "2y"), ("fr", "90d"), ("sb", "2y")],
        retention: None,
        transfers: &[("US", "adequacy")],
        legal_basis: "consent",
    },
    // l. 106: "Twitter Inc., 1355 Market St, Suite 900, San Francisco" — for the EU today
    // Twitter International Unlimited Company; l. 114: Privacy Shield, now SCC (X Corp. is
    // not DPF-certified).
    Expect {
        service: "twitter",
        provider: Some("Twitter International Unlimited Company"),
        country: Some("IE"),
        cookies: &[
            ("guest_id", "2y"),
            ("personalization_id", "2y"),
            ("guest_id", "2y"),
        ],
        retention: None,
        transfers: &[("US", "scc")],
        legal_basis: "consent",
    },
    // l. 108: "Instagram LLC, 1601 Willow Rd, Menlo Park" — for the EU today Meta Platforms
    // Ireland Limited; l. 114: Privacy Shield, now DPF.
    Expect {
        service: "instagram",
        provider: Some("Meta Platforms Ireland Limited"),
        country: Some("IE"),
        cookies: &[("csrftoken", "1y"), ("mid", "2y"), ("ig_did", "2y")],
        retention: None,
        transfers: &[("US", "adequacy")],
        legal_basis: "consent",
    },
    // l. 112: "Pinterest Europe Ltd., Palmerston House, 2nd Floor, Fenian Street, Dublin 2,
    // Irland", data passed to "Pinterest Inc. ... USA"; l. 114: Privacy Shield, now SCC.
    Expect {
        service: "pinterest",
        provider: Some("Pinterest Europe Ltd."),
        country: Some("IE"),
        cookies: &[("_pinterest_sess", "1y"), ("_auth", "1y")],
        retention: None,
        transfers: &[("US", "scc")],
        legal_basis: "consent",
    },
    // l. 116: "YouTube LLC, 901 Cherry Avenue, San Bruno", represented by Google LLC — for
    // the EU today Google Ireland Limited; extended privacy mode; no legal basis stated,
    // consent under § 25 Abs. 1 TDDDG. Storage: Google's cookie list.
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
    // l. 110: Google+ — left out (shut down 2019).
];

// Purposes
pub const PURPOSES: &[ExpectPurpose] = &[
    // l. 54: "Soweit Sie ausdrücklich darin eingewilligt haben"; no provider, no double
    // opt-in, no proof retention stated: double opt-in for provable consent (BGH I ZR
    // 164/09), proof 3 years after unsubscribing (§ 195 BGB) — our choices.
    ExpectPurpose {
        purpose: "newsletter",
        double_opt_in: true,
        proof_retention: Some(("3y", "withdrawal")),
        processors: &[],
        transfers: &[],
    },
    // l. 153-163: consent (lit. a, l. 163), withdrawal by message to info@dog-and-me.de;
    // Google (the client's own account) is a recipient, not a processor; "auf Servern in
    // den USA" (l. 159), no safeguard stated — Google LLC is DPF-certified.
    ExpectPurpose {
        purpose: "calendar-sync",
        double_opt_in: false,
        proof_retention: Some(("3y", "withdrawal")),
        processors: &[],
        transfers: &[("US", "adequacy")],
    },
    // l. 207-212: app, consent (lit. a, l. 211); "Im Falle des Widerrufs werden sämtliche
    // Kontaktdaten auf unseren Servern gelöscht".
    ExpectPurpose {
        purpose: "contact-sync",
        double_opt_in: false,
        proof_retention: Some(("3y", "withdrawal")),
        processors: &[],
        transfers: &[],
    },
    // l. 214-217: app, consent (lit. a, l. 216); no push service named.
    ExpectPurpose {
        purpose: "push",
        double_opt_in: false,
        proof_retention: Some(("3y", "withdrawal")),
        processors: &[],
        transfers: &[],
    },
];
