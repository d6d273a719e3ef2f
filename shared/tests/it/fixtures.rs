//! Configs and records the topic modules share.

use keksdose_shared::SiteConfig;

/// A small but complete config: necessary, analytics (two services), marketing.
pub const SMALL: &str = r##"
[site]
name = "Beispiel GmbH"
languages = ["de", "en"]
privacy_policy_url = { de = "https://beispiel.de/datenschutz", en = "https://beispiel.de/en/privacy" }
imprint_url = "https://beispiel.de/impressum"
policy_version = "Stand: 30.06.2022"

[site.controller]
name = "Beispiel GmbH"
address = "Musterstraße 1, 10115 Berlin, Deutschland"
country = "DE"

[consent]
lifetime = "12mo"

[[categories]]
id = "analytics"

[[categories]]
id = "marketing"

[[services]]
id = "session"
name = "Sitzung"
category = "necessary"
description = { de = "Hält Sie angemeldet.", en = "Keeps you logged in." }
legal_basis = "contract"
cookies = [{ name = "sid", lifetime = "session", purpose = { de = "Sitzungskennung", en = "Session identifier" } }]

[[services]]
id = "mixpanel"
name = "Mixpanel"
category = "analytics"
description = { de = "Produktanalyse", en = "Product analytics" }
legal_basis = "consent"
privacy_policy_url = "https://mixpanel.com/legal/privacy-policy"
consent_mode = ["analytics_storage"]
provider = { name = "Mixpanel, Inc.", address = "One Front Street, 28th Floor, San Francisco, CA 94111, USA", country = "US" }
transfers = [{ country = "US", safeguard = "scc" }]
cookies = [{ name = "mp_*_mixpanel", lifetime = "1y", purpose = { de = "Nutzerkennung", en = "User identifier" } }]

[[services]]
id = "segment"
name = "Segment"
category = "analytics"
description = { de = "Ereignisse sammeln", en = "Event collection" }
legal_basis = "consent"
privacy_policy_url = "https://www.twilio.com/en-us/legal/privacy"
provider = { name = "Twilio Inc.", address = "101 Spear Street, San Francisco, CA 94105, USA", country = "US" }
transfers = [{ country = "US", safeguard = "adequacy" }]
cookies = [{ name = "ajs_anonymous_id", lifetime = "1y", purpose = { de = "Kennung", en = "Identifier" } }]

[[services]]
id = "google-ads"
name = "Google Ads"
category = "marketing"
description = { de = "Conversion-Messung", en = "Conversion tracking" }
legal_basis = "consent"
privacy_policy_url = "https://policies.google.com/privacy"
consent_mode = ["ad_storage", "ad_user_data", "ad_personalization"]
provider = { name = "Google Ireland Limited", address = "Gordon House, Barrow Street, Dublin 4, Irland", country = "IE" }
cookies = [{ name = "_gcl_au", lifetime = "90d", purpose = { de = "Conversion", en = "Conversion" } }]
"##;

pub fn small() -> SiteConfig {
    let config = SiteConfig::from_toml(SMALL).expect("fixture parses");
    config.validate().expect("fixture is valid");
    config
}
