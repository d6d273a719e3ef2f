use super::{Expect, ExpectPurpose};

// fluxcess: facts from /work/shared/seeds/003_6ebd625abc1ac552.txt (quoted line numbers in comments)
//
// The policy ("Stand Mai 2018", l. 88; controller fluxcess GmbH, Kollegienwall 1a,
// 49074 Osnabrück, l. 11-13) names no third-party service, no provider, no
// third-country transfer and no cookie by name. Cookie names are the config's own
// (the policy gives none); their lifetimes are the policy's kinds: "Session cookies
// werden nur für die Dauer der Sitzung gespeichert" and "Permanent cookies werden
// entweder automatisch gemäß der programmierten Nutzungsdauer oder manuell vom
// Nutzer gelöscht" (l. 28), no duration given.

// Services
pub const SERVICES: &[Expect] = &[
    // l. 28: "Speicherung individueller Seiteneinstellungen (Schriftgröße, Sprache
    // o.ä.) ... (sogenannte „session“ oder „temporary“ cookies)"; l. 30: "Auf unserer
    // Website kommen beide Arten der vorgenannten Cookies zum Einsatz."; l. 32: "mit
    // einem berechtigten Interesse gemäß Art. 6 Abs. 1 lit. f. der
    // Datenschutz-Grundverordnung (DSGVO)".
    Expect {
        service: "session",
        provider: None,
        country: None,
        cookies: &[("fluxcess_session", "session")],
        retention: None,
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 28: "Speicherung von Nutzerdaten zur Identifizierung des Nutzers z.B. während
    // eines Bestellvorgangs im Online-Shop ... (sogenannte „permanent“ oder
    // „persistant“ cookies)"; l. 32: Art. 6 Abs. 1 lit. f DSGVO.
    Expect {
        service: "persistent",
        provider: None,
        country: None,
        cookies: &[("fluxcess_id", "persistent")],
        retention: None,
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 38: "Unser Hosting-Anbieter erhebt über jeden Zugriff auf den Server ... Daten
    // (sog. Server logs), zu denen auch die IP-Adresse gehört. Rechtsgrundlage hierfür
    // ist unser berechtigtes Interessen im Sinne des Art. 6 Abs. 1 lit. f. DSGVO. Diese
    // Daten werden höchstens für die Dauer von sieben Tagen gespeichert und danach
    // gelöscht." The hosting provider is not named: no provider.
    Expect {
        service: "server-logs",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("sieben Tage"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // l. 46: "Rechtsgrundlage für die Verarbeitung dieser Daten ist demgemäß Ihre
    // Einwilligung gemäß Art. 6 Abs. 1 Ziff. a) DSGVO. ... Im Übrigen berufen wir uns
    // auf die Rechtsgründe nach Art. 6 Abs. 1 Ziff. b) f) DSGVO."; l. 48: "überprüfen wir
    // jährlich ... Liegt ein solches Erfordernis nicht vor, werden die Daten innerhalb
    // eines weiteren Monats gelöscht." A consent presumed from a message is no consent
    // (Art. 4 Nr. 11, Art. 7 DSGVO): lit. f today, as the config says.
    Expect {
        service: "contact",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("innerhalb eines weiteren Monats"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
];

// Purposes
pub const PURPOSES: &[ExpectPurpose] = &[
    // l. 54: "eine E-Mail mit einem Link ..., der zur Bestätigung Ihrer Anmeldung
    // Ihrerseits dient. Hierbei protokollieren bzw. speichern wir ...
    // Anmelde- und Bestätigungszeitpunkt sowie die IP-Adresse."; l. 58: "Nach der
    // Kündigung können wir Ihre E-Mail-Adresse ... bis zu vier Jahre allein zu diesem
    // Zweck speichern bevor wir sie löschen." No mail provider named (no processor).
    ExpectPurpose {
        purpose: "newsletter",
        double_opt_in: true,
        proof_retention: Some(("4y", "withdrawal")),
        processors: &[],
        transfers: &[],
    },
    // l. 62: the same confirmation link and log for the online software; l. 70:
    // "Einwilligung gemäß Art. 6 Abs. 1 lit. a DSGVO"; l. 72-74: data kept while the
    // software is used; after three years without use and thirty days without an
    // answer deleted, the e-mail address "Nach einem weiteren Jahr". No period for
    // the sign-up log itself, and the hosting provider is not named.
    ExpectPurpose {
        purpose: "online-software",
        double_opt_in: true,
        proof_retention: None,
        processors: &[],
        transfers: &[],
    },
];
