//! The config's unit tests: the file's keys, overrides and the checks on
//! each value.

use super::*;

#[test]
fn drain_admission_and_redis_tables_are_read_and_checked_by_name() {
    let file = LimitsFile::parse(
        "[drain]\ngrace_secs = 12\n[admission]\nnew_sessions_per_second = 7\nnew_sessions_burst = 9\n[redis]\nsession_ttl_secs = 5\n",
    )
    .expect("valid file");
    let (drain, admission, redis) = file.scale_settings().expect("valid tables");
    assert_eq!(drain.grace, Duration::from_secs(12));
    assert_eq!((admission.per_second, admission.burst), (7, 9));
    assert_eq!(redis.session_ttl, Duration::from_secs(5));
    let defaults = LimitsFile::default().scale_settings().expect("defaults");
    assert_eq!(defaults.0.grace, Duration::from_secs(30));
    for (text, named) in [
        ("[redis]\nsession_ttl_secs = 1\n", "session_ttl_secs"),
        (
            "[admission]\nnew_sessions_burst = 0\n",
            "new_sessions_burst",
        ),
        ("[drain]\ngrace_secs = 99999\n", "grace_secs"),
    ] {
        let err = LimitsFile::parse(text)
            .and_then(|f| f.scale_settings())
            .expect_err(text);
        assert!(err.to_string().contains(named), "{err}");
    }
    assert!(
        LimitsFile::parse("[drain]\ngrace = 1\n").is_err(),
        "unknown key"
    );
}

#[test]
fn file_values_apply_and_flags_override_them() {
    let file =
        LimitsFile::parse("max_frame_bytes = 4096\nagent_queue_frames = 16\n").expect("valid file");
    let flags = LimitsFile {
        agent_queue_frames: Some(4),
        ..LimitsFile::default()
    };
    let limits = file.into_limits(&flags).expect("valid limits");
    assert_eq!(limits.max_frame_bytes, 4096);
    assert_eq!(limits.agent_queue_frames, 4);
    assert_eq!(limits.max_agents_per_session, 8);
    assert_eq!(limits.code_ttl, Duration::from_secs(1200));
    assert_eq!(limits.code_guesses_per_minute, 5);
}

#[test]
fn access_keys_are_read_and_checked() {
    let file = LimitsFile::parse(
        "code_ttl_secs = 90\ncode_guesses_per_minute = 3\nagent_secret = \"0123456789abcdef0123456789abcdef\"\n",
    )
    .expect("valid file");
    assert!(file.agent_secret().expect("long enough").is_some());
    assert!(!format!("{file:?}").contains("0123456789abcdef"));
    let limits = file.into_limits(&LimitsFile::default()).expect("valid");
    assert_eq!(limits.code_ttl, Duration::from_secs(90));
    assert_eq!(limits.code_guesses_per_minute, 3);
    let short = LimitsFile::parse("agent_secret = \"short\"").expect("parses");
    let err = short.agent_secret().expect_err("too short");
    assert!(err.to_string().contains("agent_secret"), "{err}");
    let zero = LimitsFile::parse("code_ttl_secs = 0").expect("parses");
    assert!(zero.into_limits(&LimitsFile::default()).is_err());
}

#[test]
fn the_agent_message_budget_is_read_and_checked() {
    let defaults = LimitsFile::default();
    let limits = defaults.into_limits(&LimitsFile::default()).expect("ok");
    assert_eq!(limits.agent_messages_per_second, 60);
    let file = LimitsFile::parse("agent_messages_per_second = 20").expect("parses");
    let limits = file.into_limits(&LimitsFile::default()).expect("ok");
    assert_eq!(limits.agent_messages_per_second, 20);
    let zero = LimitsFile::parse("agent_messages_per_second = 0").expect("parses");
    let err = zero
        .into_limits(&LimitsFile::default())
        .expect_err("zero refused");
    assert!(
        err.to_string().contains("agent_messages_per_second"),
        "{err}"
    );
}

#[test]
fn the_idle_timeout_defaults_to_half_an_hour_and_zero_means_never() {
    let limits = LimitsFile::default()
        .into_limits(&LimitsFile::default())
        .expect("ok");
    assert_eq!(limits.idle_timeout, Duration::from_secs(1800));
    let file = LimitsFile::parse("idle_timeout_secs = 0").expect("parses");
    let limits = file.into_limits(&LimitsFile::default()).expect("ok");
    assert_eq!(limits.idle_timeout, Duration::ZERO);
    let huge = LimitsFile::parse("idle_timeout_secs = 18446744073709551615").expect("parses");
    let err = huge
        .into_limits(&LimitsFile::default())
        .expect_err("too long");
    assert!(err.to_string().contains("idle_timeout_secs"), "{err}");
}

#[test]
fn the_resume_window_is_read_and_zero_turns_it_off() {
    let limits = LimitsFile::default()
        .into_limits(&LimitsFile::default())
        .expect("ok");
    assert_eq!(limits.resume_grace, Duration::from_secs(30));
    assert_eq!(limits.resume_failures_per_minute, 10);
    let file = LimitsFile::parse(
        "resume_grace_secs = 0
resume_failures_per_minute = 3",
    )
    .expect("parses");
    let limits = file.into_limits(&LimitsFile::default()).expect("ok");
    assert_eq!(limits.resume_grace, Duration::ZERO);
    assert_eq!(limits.resume_failures_per_minute, 3);
    let huge = LimitsFile::parse("resume_grace_secs = 100000").expect("parses");
    let err = huge
        .into_limits(&LimitsFile::default())
        .expect_err("too long");
    assert!(err.to_string().contains("resume_grace_secs"), "{err}");
}

#[test]
fn the_origin_and_visitor_rate_limits_are_read_and_checked() {
    let limits = LimitsFile::default()
        .into_limits(&LimitsFile::default())
        .expect("ok");
    assert_eq!(limits.max_sessions_per_origin, 1000);
    assert_eq!(limits.visitor_messages_per_second, 300);
    let file = LimitsFile::parse("max_sessions_per_origin = 0\nvisitor_messages_per_second = 50")
        .expect("parses");
    let limits = file.into_limits(&LimitsFile::default()).expect("ok");
    assert_eq!(limits.max_sessions_per_origin, 0, "0 turns the limit off");
    assert_eq!(limits.visitor_messages_per_second, 50);
    let low = LimitsFile::parse("visitor_messages_per_second = 2").expect("parses");
    let err = low
        .into_limits(&LimitsFile::default())
        .expect_err("too low");
    assert!(
        err.to_string().contains("visitor_messages_per_second"),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_an_error_that_names_the_key() {
    let err = LimitsFile::parse("max_agents = 3\n").expect_err("unknown key");
    assert!(err.to_string().contains("max_agents"), "{err}");
}

#[test]
fn resource_tables_are_read_with_their_aliases() {
    let file = LimitsFile::parse(
        "max_frame_bytes = 4096\n[cache]\nttl = \"2h\"\nlocal_max_bytes = 1000\n\
         [resources]\nallowedExternalDomains = [\"cdn.example.com\", \"*.example.net\"]\n\
         strict = true\nmax_resource_bytes = 10\nsession_budget_bytes = 20\n",
    )
    .expect("valid file");
    let s = file.resource_settings().expect("valid");
    assert_eq!(s.cache_ttl, Duration::from_secs(7200));
    assert_eq!(s.local_max_bytes, 1000);
    assert!(s.strict);
    assert!(s.fetch_allowed("cdn.example.com") && s.fetch_allowed("a.example.net"));
    assert!(!s.fetch_allowed("example.org"));
    assert_eq!((s.max_resource_bytes, s.session_budget_bytes), (10, 20));
    let defaults = LimitsFile::parse("").expect("empty").resource_settings();
    assert_eq!(defaults.expect("ok").cache_ttl, Duration::from_secs(3600));
    let err = LimitsFile::parse("[cache]\nttl_secs = 3\n").expect_err("unknown key");
    assert!(err.to_string().contains("ttl_secs"), "{err}");
    let seconds = LimitsFile::parse("[cache]\nttl = 90\n").expect("parses");
    let s = seconds.resource_settings().expect("ok");
    assert_eq!(s.cache_ttl, Duration::from_secs(90));
}

#[test]
fn zero_queue_is_refused() {
    let file = LimitsFile::parse("agent_queue_frames = 0").expect("parses");
    let err = file
        .into_limits(&LimitsFile::default())
        .expect_err("zero queue");
    assert!(err.to_string().contains("agent_queue_frames"), "{err}");
}

#[test]
fn origin_list_is_exact_but_ignores_a_trailing_slash() {
    let policy = OriginPolicy::from_list(vec!["http://127.0.0.1:8081/".into()]);
    assert!(policy.allows(Some("http://127.0.0.1:8081")));
    assert!(!policy.allows(Some("http://127.0.0.1:8082")));
    assert!(!policy.allows(Some("http://127.0.0.1:8081.evil.example")));
    assert!(!policy.allows(None));
    assert!(OriginPolicy::from_list(vec![]).allows(None));
}

#[test]
fn redis_urls_are_checked_for_form() {
    assert_eq!(
        Backend::from_redis_flag(None).expect("memory"),
        Backend::Memory
    );
    let ok = Backend::from_redis_flag(Some("redis://127.0.0.1:6379")).expect("valid");
    assert_eq!(ok.to_string(), "Redis at redis://127.0.0.1:6379");
    let err = Backend::from_redis_flag(Some("127.0.0.1:6379")).expect_err("no scheme");
    assert!(err.to_string().contains("redis://"), "{err}");
    let err = Backend::from_redis_flag(Some("redis://:pw@[::1")).expect_err("bad host");
    assert!(!err.to_string().contains("pw"), "{err}");
}

#[test]
fn redis_passwords_stay_out_of_logs() {
    let url = RedisUrl::parse("redis://user:s3cret@db.internal:6380/2").expect("valid");
    assert_eq!(url.to_string(), "redis://***@db.internal:6380/2");
    assert!(!format!("{url:?}").contains("s3cret"));
    assert_eq!(url.secret(), "redis://user:s3cret@db.internal:6380/2");
    let plain = RedisUrl::parse("redis://127.0.0.1/0").expect("valid");
    assert_eq!(plain.to_string(), "redis://127.0.0.1/0");
    let unix = RedisUrl::parse("redis+unix:///run/redis.sock?pass=s3cret").expect("valid");
    assert_eq!(unix.to_string(), "redis+unix:///run/redis.sock?***");
}
