"""Reference values for test/unit/stats.test.ts, computed independently of Ocular's TypeScript
(Python standard library only: NormalDist for the normal quantile, math.comb for binomial terms).
Each method is written out from its textbook definition, as R's p.adjust and the papers state it:

  Wilson score interval      Wilson (1927); Newcombe (1998a) method 3
  Holm / Benjamini-Hochberg  R's p.adjust: holm = pmin(1, cummax((n - i + 1) * p[o]))[ro],
                             BH = pmin(1, cummin(n / i * p[o]))[ro] with o decreasing
  Newcombe paired interval   Newcombe (1998b) method 10 (square-and-add with the corrected phi)
  mid-p McNemar              Fagerland, Lydersen & Laake (2013)

    python3 tools/stats_reference.py

Prints one line per value; the test copies them (to 12 significant digits) next to the published
values they reproduce.
"""
from fractions import Fraction
from math import comb, sqrt
from statistics import NormalDist

ND = NormalDist()


def wilson(x, n, level=0.95):
    z = ND.inv_cdf(1 - (1 - level) / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p):
    n = len(p)
    out, running = [0.0] * n, 0.0
    for k, i in enumerate(sorted(range(n), key=lambda i: p[i])):
        running = max(running, (n - k) * p[i])
        out[i] = min(1.0, running)
    return out


def bh(p):
    n = len(p)
    out, running = [0.0] * n, float("inf")
    for k, i in enumerate(sorted(range(n), key=lambda i: -p[i])):
        running = min(running, n / (n - k) * p[i])
        out[i] = min(1.0, running)
    return out


def newcombe_paired(a, b, c, d, level=0.95):
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = wilson(a + b, n, level), wilson(a + c, n, level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    phi = 0.0 if margins == 0 else (cross - n / 2) / sqrt(margins) if cross > n / 2 else 0.0 if cross >= 0 else cross / sqrt(margins)
    diff = p1 - p2
    lower = diff - sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    upper = diff + sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    return diff, max(-1.0, lower), min(1.0, upper)


def mid_p(b, c):
    m, k = b + c, min(b, c)
    if m == 0:
        return 1.0
    return min(1.0, float(Fraction(2 * sum(comb(m, i) for i in range(k)) + comb(m, k), 2**m)))


def main():
    for p in [0.975, 0.995, 0.9, 0.8, 0.5, 1e-10]:
        print("normal quantile", p, repr(ND.inv_cdf(p)))
    for x, n, level in [(81, 263, 0.95), (15, 148, 0.95), (0, 20, 0.95), (1, 29, 0.95), (20, 20, 0.95), (7, 12, 0.9), (60, 60, 0.95)]:
        print("wilson", x, n, level, [repr(v) for v in wilson(x, n, level)])
    for v in [[0.01, 0.02, 0.03, 0.04, 0.05], [0.04, 0.001, 0.03, 0.2, 0.03, 0.6, 0.012]]:
        print("holm", v, [repr(x) for x in holm(v)])
        print("bh", v, [repr(x) for x in bh(v)])
    for t in [(59, 6, 16, 80), (1, 1, 7, 12), (60, 0, 0, 0), (0, 20, 0, 0), (43, 12, 3, 2)]:
        print("newcombe paired", t, [repr(v) for v in newcombe_paired(*t)])
    for b, c in [(1, 7), (12, 3), (0, 25), (1500, 1400)]:
        print("mid-p", b, c, repr(mid_p(b, c)))


if __name__ == "__main__":
    main()
