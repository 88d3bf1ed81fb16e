from shared.ratelimit import TokenBuckets


def test_a_device_gets_its_burst_then_one_press_per_refill_period() -> None:
    buckets = TokenBuckets(burst=3, refill_s=2.0)
    assert [buckets.take("D1", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("D1", 100.0) == 2.0
    assert buckets.take("D2", 100.0) == 0.0, "buckets are per device"
    assert buckets.take("D1", 101.0) == 1.0
    assert buckets.take("D1", 102.0) == 0.0
    assert buckets.take("D1", 1000.0) == 0.0 and buckets.take("D1", 1000.0) == 0.0


def test_peek_takes_nothing_and_full_buckets_are_forgotten_past_the_cap() -> None:
    buckets = TokenBuckets(burst=1, refill_s=10, max_keys=2)
    assert buckets.peek("a", now=0) == 0.0
    assert buckets.take("a", now=0) == 0.0
    assert buckets.peek("a", now=4) == 6.0 and buckets.peek("a", now=4) == 6.0
    for key in ("b", "c"):
        buckets.take(key, now=5)
    buckets.take("d", now=20)  # over the cap: "a" (full again since t=10) is forgotten
    assert "a" not in buckets._state and buckets.peek("b", now=20) == 0.0
