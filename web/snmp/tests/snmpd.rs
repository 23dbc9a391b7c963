//! Polls against a real agent (Debian's snmpd, started per test on loopback): v2c and
//! two v3 users with SHA-2 authentication and AES privacy, the ifDescr fallback of an
//! agent without ifXTable, and the errors of wrong passwords, wrong users and an
//! unreachable agent. The agent's own answers (snmpwalk) are the expected values.

use flowvision_snmp::{poll, AuthProtocol, Credentials, PollErrorKind, PollOptions, PrivProtocol};
use flowvision_tests::snmpd::{self, Snmpd};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn quick() -> PollOptions {
    PollOptions { timeout: Duration::from_millis(700), retries: 1, ..PollOptions::default() }
}

fn v3(user: (&str, &str, &str), auth: AuthProtocol, privacy: PrivProtocol) -> Credentials {
    Credentials::V3 {
        user: user.0.into(),
        auth: Some((auth, user.1.into())),
        privacy: Some((privacy, user.2.into())),
    }
}

#[tokio::test]
async fn names_arrive_over_v2c_and_v3_and_match_snmpwalk() -> TestResult {
    let agent = Snmpd::start()?;
    agent.set_alias(1, "loopback — test alias")?;
    let descr = agent.walk(snmpd::COMMUNITY, ".1.3.6.1.2.1.2.2.1.2")?;
    let names = agent.walk(snmpd::COMMUNITY, ".1.3.6.1.2.1.31.1.1.1.1")?;
    assert!(!descr.is_empty() && descr.len() == names.len(), "snmpwalk: {descr:?} {names:?}");

    let creds = [
        Credentials::V2c { community: snmpd::COMMUNITY.into() },
        v3(snmpd::USER_SHA256_AES128, AuthProtocol::Sha256, PrivProtocol::Aes128),
        v3(snmpd::USER_SHA512_AES256, AuthProtocol::Sha512, PrivProtocol::Aes256),
    ];
    for c in &creds {
        let d = poll(agent.addr(), c, &quick()).await.map_err(|e| format!("{c:?}: {e}"))?;
        assert_eq!(d.sys_name.as_deref(), Some(snmpd::SYS_NAME), "{c:?}");
        assert!(d.sys_descr.as_deref().is_some_and(|s| s.contains("Linux")), "{c:?}: {:?}", d.sys_descr);
        // net-snmp on Linux: NET-SNMP-TC::linux.
        assert_eq!(d.sys_object_id.as_deref(), Some("1.3.6.1.4.1.8072.3.2.10"), "{c:?}");
        assert!(d.has_if_x_table);
        assert_eq!(d.interfaces.len(), descr.len(), "{c:?}: {:?}", d.interfaces);
        for (oid, name) in &names {
            let index: u32 = oid.rsplit('.').next().and_then(|s| s.parse().ok()).ok_or("index")?;
            let i = d
                .interfaces
                .iter()
                .find(|i| i.if_index == index)
                .ok_or(format!("ifIndex {index} missing"))?;
            assert_eq!(i.name.as_deref(), Some(name.as_str()));
        }
        let lo = d.interfaces.iter().find(|i| i.if_index == 1).ok_or("ifIndex 1")?;
        assert_eq!(lo.alias.as_deref(), Some("loopback — test alias"));
        assert_eq!(lo.label(), format!("{} (loopback — test alias)", lo.name.as_deref().unwrap_or("?")));
        assert_eq!(lo.speed_bps, Some(10_000_000), "lo: ifHighSpeed 10 Mbit/s as net-snmp reports it");
    }
    println!("polled {} interfaces over v2c, v3 SHA-256/AES-128 and v3 SHA-512/AES-256", descr.len());
    Ok(())
}

#[tokio::test]
async fn without_if_x_table_names_come_from_if_descr() -> TestResult {
    let agent = Snmpd::start()?;
    let descr = agent.walk(snmpd::COMMUNITY, ".1.3.6.1.2.1.2.2.1.2")?;
    let creds = Credentials::V2c { community: snmpd::COMMUNITY_NO_IFX.into() };
    let d = poll(agent.addr(), &creds, &quick()).await?;
    assert!(!d.has_if_x_table);
    assert_eq!(d.interfaces.len(), descr.len());
    for i in &d.interfaces {
        assert_eq!(i.name, None);
        assert_eq!(Some(i.label()), i.descr.clone(), "label falls back to ifDescr");
    }
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_and_unreachable_agents_are_typed_errors() -> TestResult {
    let agent = Snmpd::start()?;
    let (user, auth, privacy) = snmpd::USER_SHA256_AES128;
    let cases = [
        (
            "wrong auth password",
            v3((user, "wrong-password", privacy), AuthProtocol::Sha256, PrivProtocol::Aes128),
            PollErrorKind::Authentication,
        ),
        (
            "unknown user",
            v3(("nobody-here", auth, privacy), AuthProtocol::Sha256, PrivProtocol::Aes128),
            PollErrorKind::Authentication,
        ),
        (
            "wrong auth protocol",
            v3((user, auth, privacy), AuthProtocol::Sha512, PrivProtocol::Aes128),
            PollErrorKind::Authentication,
        ),
        // v2c agents drop a wrong community silently: a timeout, and the message says so.
        (
            "wrong community",
            Credentials::V2c { community: "not-the-community".into() },
            PollErrorKind::Timeout,
        ),
    ];
    for (what, c, kind) in cases {
        match poll(agent.addr(), &c, &quick()).await {
            Ok(d) => return Err(format!("{what}: polled {d:?}").into()),
            Err(e) => {
                assert_eq!(e.kind, kind, "{what}: {e}");
                assert!(e.message.contains(&agent.addr().to_string()), "{what}: {e}");
                for secret in [auth, privacy, "wrong-password", "not-the-community"] {
                    assert!(!e.message.contains(secret), "{what}: a secret in {e}");
                }
                println!("{what}: {} — {}", e.kind.as_str(), e.message);
            }
        }
    }
    // A wrong privacy password passes authentication but the agent cannot decrypt: it
    // reports a decryption error, or stays silent; never a success.
    let wrong_priv = v3((user, auth, "wrong-priv-pass"), AuthProtocol::Sha256, PrivProtocol::Aes128);
    let e = poll(agent.addr(), &wrong_priv, &quick()).await.err().ok_or("wrong priv password polled")?;
    assert!(matches!(e.kind, PollErrorKind::Authentication | PollErrorKind::Timeout), "{e}");

    let gone = agent.addr();
    drop(agent);
    let e = poll(gone, &Credentials::V2c { community: snmpd::COMMUNITY.into() }, &quick())
        .await
        .err()
        .ok_or("polled a stopped agent")?;
    assert!(matches!(e.kind, PollErrorKind::Timeout | PollErrorKind::Network), "{e}");
    Ok(())
}
