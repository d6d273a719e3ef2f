//! Operating the server: settings in layers, rate limits, `/metrics`, and request
//! logs that never hold an IP address, user agent or consent ID.

use keksdose_tests::TestServer;

#[tokio::test]
async fn an_unknown_key_in_the_settings_file_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keksdose.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1\"\ntrusted_proxy = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let err = TestServer::start_with(|c| {
        c.env("KEKSDOSE_CONFIG", &file);
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown field `trusted_proxy`"), "{err}");
    assert!(err.contains("keksdose.toml"), "{err}");
}
