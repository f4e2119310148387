#!/usr/bin/env python3
"""Stores 100 segments in a running segmint server: the 18 of benches/segments (with their
file names as ids) and 82 variants of attribute, sum and product-view conditions.
    benches/http/store_segments.py http://127.0.0.1:8080
"""
import json, sys, urllib.request, glob, os, time
base = sys.argv[1]
def post(body):
    req = urllib.request.Request(base + "/segments", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)
suite = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "segments")
order = sorted(glob.glob(suite + "/*.json"), key=lambda p: "big_spender" in p)
started = time.time()
for path in order:
    d = json.load(open(path)); d["id"] = os.path.basename(path)[:-5]
    post(d)
n = len(order)
i = 0
while n < 100:
    kind = i % 3
    if kind == 0:
        d = {"name": f"group {i}", "websites": [1, 2], "apply_to": "registered",
             "conditions": {"all": [{"field": "customer.group_id", "op": "eq", "value": 1 + i % 3},
                                    {"field": "customer.store_credit", "op": "gte", "value": i}]}}
    elif kind == 1:
        d = {"name": f"spent {i}", "websites": [1], "apply_to": "registered",
             "conditions": {"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 50 * i}}
    else:
        d = {"name": f"views {i}", "websites": [1, 2], "apply_to": "both",
             "conditions": {"has": "product_view", "where": {"field": "product_view.viewed_at", "op": "in_last_days", "value": 1 + i}}}
    post(d); n += 1; i += 1
print(f"{n} segments stored in {time.time()-started:.1f} s")
