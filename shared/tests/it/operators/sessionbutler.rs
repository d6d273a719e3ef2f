use super::{Expect, ExpectPurpose};

// SessionButler: facts from /work/shared/seeds/000_92bb97ba42e2ca42.txt (quoted line numbers in comments)
// Sites (l. 13): "www.SessionButler.de und www.SeBu.tools"; "Stand September 2020" (l. 165).
// No third party sets cookies (l. 69: "Cookies von Dritten ... setzen wir auf unseren Seiten nicht ein"),
// no transfer to a third country is stated anywhere.
pub const SERVICES: &[Expect] = &[
    // C.I Server Log Files (l. 27-51): "Art. 6 Abs. 1 lit. f DSGVO" (l. 43);
    // "nach 30 Tagen automatisch gelöscht" (l. 51). No cookies.
    Expect {
        service: "server-logs",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("nach 30 Tagen"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // C.II Session-Cookies (l. 53-69): "nur sog. Session-Cookies ... nach dem Schließen des
    // Browsers wieder gelöscht" (l. 55), no persistent cookies (l. 57); "Art. 6 Abs. 1 lit. f
    // DSGVO" (l. 61). The policy names no cookie: `sebu_session` is the config's placeholder.
    // The measurement of l. 63-67 is not modelled (it would need consent, § 25 TDDDG).
    Expect {
        service: "session",
        provider: None,
        country: None,
        cookies: &[("sebu_session", "session")],
        retention: None,
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // D Vertragsabwicklung (l. 71-103): "Art. 6 Abs. 1 lit. b DSGVO" (l. 97);
    // "bis zu 3 Monate nach Beendigung des Nutzungsvertrags" (l. 101), payment and invoice
    // data "bis zum Ablauf der gesetzlichen bzw. möglicher vertraglicher Aufbewahrungsfristen" (l. 103).
    Expect {
        service: "account",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("3 Monate nach Beendigung des Nutzungsvertrags"),
        transfers: &[],
        legal_basis: "contract",
    },
    // D.III Datenweitergabe (l. 93): "PayPal (Europe) S.à r.l. et Cie, S.C.A., 22-24 Boulevard
    // Royal, L-2449 Luxembourg, E-Mail: impressum@paypal.com"; legal basis D.IV (l. 97).
    // No retention stated for it.
    Expect {
        service: "paypal",
        provider: Some("PayPal (Europe) S.à r.l. et Cie, S.C.A."),
        country: Some("LU"),
        cookies: &[],
        retention: None,
        transfers: &[],
        legal_basis: "contract",
    },
    // E Provisionsangebot (l. 105-109): "nur anonymisiert" (l. 107);
    // "berechtigten Interesse, Art. 6 Abs. 1 lit. f DSGVO" (l. 109). No retention stated.
    Expect {
        service: "referral",
        provider: None,
        country: None,
        cookies: &[],
        retention: None,
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
    // F Kontakt-E-Mail (l. 111-125): lit. a, b or f "je nach Art ihres Anliegens" (l. 117-123);
    // the config gives lit. f. "(regelmäßig zehn Jahre)", else deleted "nach Erledigung der von
    // Ihnen gestellten Anfrage" (l. 125).
    Expect {
        service: "contact",
        provider: None,
        country: None,
        cookies: &[],
        retention: Some("regelmäßig zehn Jahre"),
        transfers: &[],
        legal_basis: "legitimate_interest",
    },
];

// Purposes: none. The policy asks for no consent outside cookies (no newsletter, no app
// consents); the consent of l. 119 is one possible basis of an e-mail enquiry, not a
// consent the site records.
pub const PURPOSES: &[ExpectPurpose] = &[];
