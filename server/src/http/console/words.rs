//! The console's two languages. Each text is written where it is used, in
//! English and German side by side (`lang.t(en, de)`): the console has a few
//! hundred words, and a text beside its translation is not forgotten when the
//! page changes.

use actix_web::HttpRequest;

use crate::service::operators::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    De,
    En,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The language a switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::De => Lang::En,
            Lang::En => Lang::De,
        }
    }

    /// Its own name, in itself.
    pub fn name(self) -> &'static str {
        match self {
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }

    pub fn t<'a>(self, en: &'a str, de: &'a str) -> &'a str {
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }

    /// Before sign-in: `?lang=`, else the first of de/en in
    /// `Accept-Language`, else German.
    pub fn of_request(req: &HttpRequest) -> Lang {
        let asked = req
            .query_string()
            .split('&')
            .find_map(|p| p.strip_prefix("lang=").and_then(Lang::parse));
        asked.unwrap_or_else(|| {
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split(',').find_map(|part| {
                        let tag = part.split(';').next().unwrap_or("").trim();
                        Lang::parse(tag.get(..2).unwrap_or("").to_ascii_lowercase().as_str())
                    })
                })
                .unwrap_or_default()
        })
    }
}

pub fn role(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::Editor => lang.t("Editor", "Redaktion"),
        Role::Dpo => lang.t("Data protection officer", "Datenschutzbeauftragte·r"),
    }
}

/// A record's action.
pub fn action(lang: Lang, action: &str) -> &'static str {
    match action {
        "accept_all" => lang.t("Accept all", "Alle akzeptieren"),
        "reject_all" => lang.t("Only necessary", "Nur Notwendige"),
        "custom" => lang.t("Custom choice", "Eigene Auswahl"),
        "withdraw" => lang.t("Withdrawn", "Widerrufen"),
        _ => lang.t("Other", "Sonstiges"),
    }
}

/// An audit trail's action.
pub fn audited(lang: Lang, action: &str) -> String {
    let w = match action {
        "sign_in" => lang.t("Signed in", "Angemeldet"),
        "sign_in_refused" => lang.t("Sign-in refused", "Anmeldung abgelehnt"),
        "sign_out" => lang.t("Signed out", "Abgemeldet"),
        "publish" => lang.t("Config published", "Konfiguration veröffentlicht"),
        "withdraw" => lang.t(
            "Consent withdrawn by the operator",
            "Einwilligung durch Betreiber widerrufen",
        ),
        "erase" => lang.t(
            "Subject's data erased",
            "Daten einer betroffenen Person gelöscht",
        ),
        "export" => lang.t("Exported", "Exportiert"),
        "access" => lang.t(
            "Subject's data looked up",
            "Daten einer betroffenen Person abgefragt",
        ),
        "proof_pack" => lang.t("Proof pack downloaded", "Nachweispaket heruntergeladen"),
        "key_rotate" => lang.t("API key rotated", "API-Schlüssel erneuert"),
        "user_add" => lang.t("User added", "Benutzer hinzugefügt"),
        "user_change" => lang.t("User's role changed", "Rolle eines Benutzers geändert"),
        "user_remove" => lang.t("User removed", "Benutzer entfernt"),
        "password_change" => lang.t("Password changed", "Passwort geändert"),
        "verify" => lang.t("Ledger verified", "Ledger geprüft"),
        _ => return action.to_string(),
    };
    w.to_string()
}
