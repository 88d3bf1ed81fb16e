from services.alarms.ratelimit import TokenBuckets


def test_a_device_gets_its_burst_then_one_press_per_refill_period() -> None:
    buckets = TokenBuckets(burst=3, refill_s=2.0)
    assert [buckets.take("D1", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("D1", 100.0) == 2.0
    assert buckets.take("D2", 100.0) == 0.0, "buckets are per device"
    assert buckets.take("D1", 101.0) == 1.0
    assert buckets.take("D1", 102.0) == 0.0
    assert buckets.take("D1", 1000.0) == 0.0 and buckets.take("D1", 1000.0) == 0.0
