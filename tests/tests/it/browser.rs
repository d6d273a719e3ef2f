//! The browser harness itself: chromedriver starts, Chromium runs page scripts, and
//! results come back as JSON. Needs no Keksdose server.

use keksdose_tests::{Browser, data_url};
use serde_json::json;

#[tokio::test]
async fn chromium_runs_a_page_script_and_reports_back() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let page = data_url(
        "<!doctype html><title>before</title>\
         <script>document.title = 'Keksdose #1 ' + (20 + 22) + ' %';</script>",
    );
    browser.client().goto(&page).await?;
    assert_eq!(browser.client().title().await?, "Keksdose #1 42 %");

    let answer = browser
        .eval_with(
            "return {sum: arguments[0] + 1, headless: navigator.webdriver};",
            vec![json!(41)],
        )
        .await?;
    assert_eq!(answer, json!({"sum": 42, "headless": true}));

    browser.close().await
}
