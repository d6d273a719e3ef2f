//! The banner's texts: German and English built in, every one overridable per site
//! and language, plus the built-in names of the usual categories.

use serde::{Deserialize, Serialize};

use crate::config::{Localized, SiteConfig};

macro_rules! texts {
    ($( $field:ident : $de:literal , $en:literal ; )*) => {
        /// A site's overrides of the built-in texts for one language.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(deny_unknown_fields)]
        pub struct TextOverrides {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
        }

        impl TextOverrides {
            /// The fields' names, as in a config.
            pub const NAMES: &[&str] = &[$( stringify!($field) ),*];

            /// Every field by name, for validation.
            pub fn fields(&self) -> Vec<(&'static str, Option<&String>)> {
                vec![$( (stringify!($field), self.$field.as_ref()) ),*]
            }

            /// The field called `name`, for readers that do not go through serde
            /// (the banner reads its options from a JavaScript object).
            pub fn field_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
                match name {
                    $( stringify!($field) => Some(&mut self.$field), )*
                    _ => None,
                }
            }
        }

        /// The texts the banner shows in one language.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct Texts {
            $( pub $field: String, )*
        }

        impl Texts {
            fn built_in(lang: &str) -> Option<Texts> {
                match lang.split('-').next() {
                    Some("de") => Some(Texts { $( $field: $de.to_string(), )* }),
                    Some("en") => Some(Texts { $( $field: $en.to_string(), )* }),
                    _ => None,
                }
            }

            fn apply(&mut self, o: &TextOverrides) {
                $( if let Some(v) = &o.$field { self.$field = v.clone(); } )*
            }

            /// Texts made only of a site's overrides (for a language we don't ship).
            fn from_overrides(o: &TextOverrides) -> Texts {
                Texts { $( $field: o.$field.clone().unwrap_or_default(), )* }
            }
        }
    };
}

texts! {
    title: "Wir respektieren Ihre Privatsphäre", "We respect your privacy";
    intro: "Wir verwenden Cookies und ähnliche Technologien. Einige sind notwendig, damit die Website funktioniert. Andere nutzen wir nur mit Ihrer Einwilligung, etwa für Statistik, Marketing oder eingebettete Inhalte. Sie können Ihre Auswahl jederzeit unter „Cookie-Einstellungen“ ändern oder widerrufen.",
           "We use cookies and similar technologies. Some are necessary for the website to work. Others we use only with your consent, for example for statistics, marketing or embedded content. You can change or withdraw your choice at any time under “Cookie settings”.";
    accept_all: "Alle akzeptieren", "Accept all";
    reject_all: "Nur Notwendige", "Only necessary";
    settings: "Einstellungen", "Settings";
    save: "Auswahl speichern", "Save selection";
    settings_title: "Cookie-Einstellungen", "Cookie settings";
    settings_intro: "Hier sehen Sie, welche Dienste wir einsetzen, wer sie anbietet und was sie speichern. Notwendige Dienste sind immer aktiv; alle anderen nur mit Ihrer Einwilligung.",
                    "Here you can see which services we use, who provides them and what they store. Necessary services are always active; all others only with your consent.";
    always_active: "Immer aktiv", "Always active";
    show_services: "Dienste anzeigen", "Show services";
    hide_services: "Dienste ausblenden", "Hide services";
    provider: "Anbieter", "Provider";
    purposes: "Zwecke", "Purposes";
    legal_basis: "Rechtsgrundlage", "Legal basis";
    cookies: "Cookies und Speicher", "Cookies and storage";
    lifetime: "Speicherdauer", "Storage period";
    session: "bis zum Ende der Sitzung", "until the end of the session";
    persistent: "bis zur Löschung", "until deleted";
    fingerprinting: "Erkennt Geräte auch ohne Cookies (Fingerprinting)", "Recognises devices without cookies (fingerprinting)";
    transfer: "Übermittlung in Drittländer", "Transfer to third countries";
    privacy_policy: "Datenschutzerklärung", "Privacy policy";
    imprint: "Impressum", "Imprint";
    opt_out: "Widerspruch (Opt-out)", "Opt-out";
    policy_version: "Stand", "Version";
    consent_id: "Ihre Consent-ID", "Your consent ID";
    consent_date: "Entschieden am", "Decided on";
    history: "Verlauf Ihrer Einwilligungen", "History of your consents";
    close: "Schließen", "Close";
    load_content: "Inhalt laden", "Load content";
    always_allow: "Immer erlauben", "Always allow";
    placeholder: "Hier ist ein Inhalt von {service} eingebettet. Beim Laden überträgt Ihr Browser Daten an {provider}.",
                 "Content from {service} is embedded here. Loading it sends data from your browser to {provider}.";
    gpc_notice: "Ihr Browser sendet ein Opt-out-Signal (Global Privacy Control). Wir haben nur notwendige Dienste aktiviert.",
                "Your browser sends an opt-out signal (Global Privacy Control). We have enabled only necessary services.";
}

/// Whether Keksdose ships texts for `lang`.
pub fn is_built_in(lang: &str) -> bool {
    Texts::built_in(lang).is_some()
}

/// The texts for `lang` as the site configured them: built-in texts with the
/// site's overrides on top (a language's own overrides win over the default
/// language's).
pub fn for_language(config: &SiteConfig, lang: &str) -> Texts {
    let default = config.default_language();
    let base = Texts::built_in(lang).or_else(|| Texts::built_in(default));
    match (base, config.texts.get(lang)) {
        (Some(mut t), overrides) => {
            if let Some(o) = overrides {
                t.apply(o);
            }
            t
        }
        (None, Some(o)) => Texts::from_overrides(o),
        (None, None) => Texts::from_overrides(&TextOverrides::default()),
    }
}

/// The ids of the usual categories, those [`built_in_category`] has texts for.
/// The loader sorts a stored decision's ids by them only until the site's config
/// arrives; after that, by the config's categories.
pub const BUILT_IN_CATEGORIES: [&str; 6] = [
    "necessary",
    "functional",
    "analytics",
    "marketing",
    "affiliate",
    "social",
];

/// Names and descriptions of the usual categories, in `lang`.
pub fn built_in_category(id: &str, lang: &str) -> Option<(&'static str, &'static str)> {
    let de = lang.starts_with("de");
    let pick =
        |d: (&'static str, &'static str), e: (&'static str, &'static str)| if de { d } else { e };
    Some(match id {
        "necessary" => pick(
            (
                "Notwendig",
                "Diese Dienste sind für den Betrieb der Website erforderlich, etwa für die Anmeldung, die Spracheinstellung oder um Ihre Cookie-Auswahl zu speichern. Sie lassen sich nicht abwählen.",
            ),
            (
                "Necessary",
                "These services are required for the website to work, for example for login, your language setting or to store your cookie choice. They cannot be switched off.",
            ),
        ),
        "functional" => pick(
            (
                "Funktional",
                "Diese Dienste ermöglichen zusätzliche Funktionen wie einen Support-Chat oder eine Einführungstour.",
            ),
            (
                "Functional",
                "These services enable additional features such as a support chat or an onboarding tour.",
            ),
        ),
        "analytics" => pick(
            (
                "Statistik",
                "Diese Dienste helfen uns zu verstehen, wie die Website genutzt wird, damit wir sie verbessern können.",
            ),
            (
                "Analytics",
                "These services help us understand how the website is used so that we can improve it.",
            ),
        ),
        "marketing" => pick(
            (
                "Marketing",
                "Diese Dienste messen den Erfolg unserer Werbung und zeigen Ihnen passende Werbung, auch auf anderen Websites.",
            ),
            (
                "Marketing",
                "These services measure the success of our advertising and show you relevant ads, also on other websites.",
            ),
        ),
        "affiliate" => pick(
            (
                "Affiliate",
                "Diese Dienste erfassen, über welchen Partner Sie zu uns gekommen sind, damit der Partner eine Provision erhält.",
            ),
            (
                "Affiliate",
                "These services record which partner referred you to us so that the partner receives a commission.",
            ),
        ),
        "social" => pick(
            (
                "Soziale Medien und externe Inhalte",
                "Diese Dienste binden Inhalte anderer Plattformen ein, etwa Videos oder Beiträge sozialer Netzwerke. Dabei erhalten die Anbieter Daten von Ihrem Browser.",
            ),
            (
                "Social media and external content",
                "These services embed content from other platforms, such as videos or social media posts. The providers receive data from your browser.",
            ),
        ),
        _ => return None,
    })
}

/// A category's name and description in `lang`: the site's own, else built in.
pub fn category_text(config: &SiteConfig, id: &str, lang: &str) -> (String, String) {
    let fallback = config.default_language();
    let cat = config.categories.iter().find(|c| c.id == id);
    let built_in = built_in_category(id, lang);
    let pick = |own: Option<&Localized>, b: Option<&'static str>| match (own, b) {
        (Some(l), _) => l.get(lang, fallback).to_string(),
        (None, Some(b)) => b.to_string(),
        (None, None) => id.to_string(),
    };
    (
        pick(cat.and_then(|c| c.name.as_ref()), built_in.map(|b| b.0)),
        pick(
            cat.and_then(|c| c.description.as_ref()),
            built_in.map(|b| b.1),
        ),
    )
}
