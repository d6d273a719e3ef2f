use super::{Expect, ExpectPurpose};

// sevDesk: facts from /work/shared/seeds/002_462a2aeadf1f381f.txt (quoted line numbers in comments)
//
// Policy "erweiterte Datenschutzerklärungen für die Plattform", Stand: 30.06.2022 (l. 5).
// Where the config departs from the policy's letter because the law moved on, the
// entry holds the config's value and the comment says what the policy says:
// - legal basis "consent" for Intercom, Userlane and AWIN, which the policy rests
//   (wholly or partly) on legitimate interest: § 25 Abs. 1 TDDDG;
// - Mixpanel's address (not checked here) is its current one.
// The policy names no cookies; the cookies below are the providers' documented
// ones as the config declares them (name, lifetime), in config order.
// Retention: a substring of the config's German `retention`, quoting the policy.
//
// Services
pub const SERVICES: &[Expect] = &[
    // § 8, l. 39: "Amazon.de GmbH, Marcel-Breuer-Str. 12, 80807 München, Deutschland";
    // l. 39-41: transfer to the USA under standard data protection clauses (Art. 46 Abs. 2 lit. c);
    // l. 53: Art. 6 Abs. 1 S. 1 lit. f; l. 59: log files "nach spätestens sieben Tagen".
    Expect {
        service: "plattform",
        provider: Some("Amazon.de GmbH"),
        country: Some("DE"),
        cookies: &[],
        retention: Some("nach spätestens sieben Tagen"),
        transfers: &[("US", "scc")],
        legal_basis: "legitimate_interest",
    },
    // § 9, l. 86-89: cookies for "Übernahme von Spracheinstellungen" and
    // "Benutzerauthentifizierung"; l. 99: lit. f. No cookie names and no
    // Speicherdauer in the policy (l. 101-105 only on browser settings).
    Expect {
        service: "anmeldung",
        provider: None,
        country: None,
        cookies: &[],
        retention: None,
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // § 10, l. 111: "Eine Weitergabe der Daten an Dritte findet nicht statt";
    // l. 129: lit. b; l. 135: deleted when "für die Durchführung des Vertrages nicht mehr erforderlich".
    Expect {
        service: "registrierung",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("für die Durchführung des Vertrages nicht mehr erforderlich"),
        transfers: &[],
        legal_basis: "contract",
    },
    // § 14, l. 451-452: Amazon Cloudwatch, Grafana/Prometheus (no provider named);
    // l. 466: lit. f; l. 470: "solange ... erforderlich ... oder wie dies gesetzlich vorgeschrieben ist".
    Expect {
        service: "telemetrie",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("gesetzlich vorgeschrieben"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // § 11, l. 151: "Billwerk GmbH, Mainzer Landstr. 33a, 60329 Frankfurt";
    // l. 174: lit. b; l. 182: "nach spätestens 10 Jahren, gelöscht".
    Expect {
        service: "billwerk",
        provider: Some("Billwerk GmbH"),
        country: Some("DE"),
        cookies: &[],
        retention: Some("nach spätestens 10 Jahren"),
        transfers: &[],
        legal_basis: "contract",
    },
    // § 11, l. 192: "PayPal (Europe) S.à.r.l. & Cie. S.C.A., 22-24 Boulevard Royal, 2449 Luxembourg";
    // l. 215: Binding Corporate Rules within the PayPal group; l. 227: lit. b;
    // l. 235: "nach spätestens 10 Jahren, gelöscht".
    Expect {
        service: "paypal",
        provider: Some("PayPal (Europe) S.à.r.l. & Cie. S.C.A."),
        country: Some("LU"),
        cookies: &[],
        retention: Some("nach spätestens 10 Jahren"),
        transfers: &[("US", "bcr")],
        legal_basis: "contract",
    },
    // § 13, l. 427: "The Financial Times Limited, 1 Southwark Bridge, SE1 9HL London,
    // Vereinigtes Königreich"; l. 287: plugins' third-country transfers under SCC;
    // l. 435: lit. f; l. 439: "z.B. für Steuer- und Buchhaltungszwecke".
    Expect {
        service: "polyfill",
        provider: Some("The Financial Times Limited"),
        country: Some("GB"),
        cookies: &[],
        retention: Some("Steuer- und Buchhaltungszwecke"),
        transfers: &[("GB", "scc")],
        legal_basis: "legitimate_interest",
    },
    // Not in the policy: the consent tool behind "Cookie-Einstellungen" > "Nur Notwendige" (l. 281).
    Expect {
        service: "keksdose",
        provider: None,
        country: None,
        cookies: &[("keksdose_sevdesk", "12mo")],
        retention: None,
        transfers: &[],
        legal_basis: "legal_obligation",
    },
    // § 13, l. 297: "Intercom Inc., 55 2nd Street, 4th Floor, San Francisco, CA 94105, USA";
    // l. 287: SCC; l. 309: legitimate interest in the policy, consent in the config (§ 25 TDDDG);
    // l. 313: "z.B. für Steuer- und Buchhaltungszwecke".
    Expect {
        service: "intercom",
        provider: Some("Intercom Inc."),
        country: Some("US"),
        cookies: &[
            ("intercom-id-*", "9mo"),
            ("intercom-session-*", "7d"),
            ("intercom-device-id-*", "9mo"),
        ],
        retention: Some("Steuer- und Buchhaltungszwecke"),
        transfers: &[("US", "scc")],
        legal_basis: "consent",
    },
    // § 13, l. 395: "Userlane GmbH, Rosenheimer Straße 143c, 81671, München, Bayern, Deutschland";
    // l. 399: storage on the device; l. 411: legitimate interest in the policy, consent
    // in the config (§ 25 TDDDG); l. 415: "z.B. für Steuer- und Buchhaltungszwecke".
    Expect {
        service: "userlane",
        provider: Some("Userlane GmbH"),
        country: Some("DE"),
        cookies: &[("userlane*", "persistent")],
        retention: Some("Steuer- und Buchhaltungszwecke"),
        transfers: &[],
        legal_basis: "consent",
    },
    // § 13, l. 323: "Segment.io Inc., 101 15th St San Francisco, CA 94103, USA", servers in
    // the USA; l. 287: SCC; l. 333: lit. a; l. 337: "solange ... gesetzlich vorgeschrieben ist".
    Expect {
        service: "segment",
        provider: Some("Segment.io Inc."),
        country: Some("US"),
        cookies: &[
            ("ajs_anonymous_id", "1y"),
            ("ajs_user_id", "1y"),
            ("ajs_group_id", "1y"),
            ("ajs_anonymous_id", "persistent"),
            ("ajs_user_id", "persistent"),
            ("ajs_user_traits", "persistent"),
            ("ajs_group_properties", "persistent"),
        ],
        retention: Some("gesetzlich vorgeschrieben"),
        transfers: &[("US", "scc")],
        legal_basis: "consent",
    },
    // § 13, l. 347: "Mixpanel Inc., 405 Howard St., 2nd Floor, San Francisco, CA 94105, USA"
    // (the config gives its current address); l. 287: SCC; l. 357: lit. a;
    // l. 361: "z.B. für Steuer- und Buchhaltungszwecke".
    Expect {
        service: "mixpanel",
        provider: Some("Mixpanel Inc."),
        country: Some("US"),
        cookies: &[("mp_*_mixpanel", "1y"), ("__mpq_*", "persistent")],
        retention: Some("Steuer- und Buchhaltungszwecke"),
        transfers: &[("US", "scc")],
        legal_basis: "consent",
    },
    // § 13, l. 373: "SatisMeter s.r.o., eská 1113/1, Prague 5, 158 00, Czech Republic";
    // l. 381: lit. a; l. 385: "gelöscht, sobald ein Kundenaccount gekündigt und deaktiviert wird".
    Expect {
        service: "satismeter",
        provider: Some("SatisMeter s.r.o."),
        country: Some("CZ"),
        cookies: &[("sm_anonymous_id", "1y")],
        retention: Some("sobald ein Kundenaccount gekündigt und deaktiviert wird"),
        transfers: &[],
        legal_basis: "consent",
    },
    // § 12, l. 247: "AWIN AG, Eichhornstraße 3, 10785, Berlin, Deutschland", cookies and
    // fingerprinting (also l. 267); l. 271: lit. a for cookies, lit. f for commission
    // accounting, consent in the config (§ 25 TDDDG); l. 277: "36 Monate nach der Erfassung".
    Expect {
        service: "awin",
        provider: Some("AWIN AG"),
        country: Some("DE"),
        cookies: &[
            ("_aw_m_*", "1y"),
            ("_aw_j_*", "3mo"),
            ("_aw_sn_*", "1y"),
            ("aw*", "30d"),
            ("AWSESS", "session"),
            ("bId", "1y"),
        ],
        retention: Some("36 Monate nach der Erfassung"),
        transfers: &[],
        legal_basis: "consent",
    },
];
//
// Purposes: none. The policy asks for no consent outside the banner (no newsletter,
// no app permissions); registration and payment rest on the contract (l. 129, 174, 227).
pub const PURPOSES: &[ExpectPurpose] = &[];
