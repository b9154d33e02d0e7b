/**
 * The standard normal quantile, for the critical values of score intervals.
 *
 *   normalQuantile(p) = Φ⁻¹(p), by Wichura's Algorithm AS241 (PPND16, Applied Statistics 37:477, 1988):
 *   a rational approximation in q = p - 0.5 near the centre (|q| <= 0.425) and in r = sqrt(-log(min(p, 1-p)))
 *   in the tails, accurate to about 1e-16 — the algorithm behind R's qnorm and Python's NormalDist.inv_cdf.
 *   zForLevel(level) = Φ⁻¹(1 - (1 - level) / 2), so P(|Z| <= z) = level (1.959963984540054 at 95%).
 */

// Wichura's published coefficients (lowest power first), each rounded to the nearest double.
const CENTRE_NUM = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987, 67265.7709270087, 33430.57558358813,
  2509.0809287301227,
];
const CENTRE_DEN = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271, 28729.085735721943, 5226.495278852854,
];
const NEAR_NUM = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684, 0.2417807251774506,
  0.022723844989269184, 0.0007745450142783414,
];
const NEAR_DEN = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457, 0.0005475938084995345,
  1.0507500716444169e-9,
];
const FAR_NUM = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124, 0.0012426609473880784,
  2.7115555687434876e-5, 2.0103343992922881e-7,
];
const FAR_DEN = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133, 1.8463183175100548e-5, 1.421511758316446e-7,
  2.0442631033899397e-15,
];

/** c[0] + c[1] x + ... + c[7] x^7, by Horner's rule. */
function poly(c: number[], x: number): number {
  let s = 0;
  for (let i = c.length - 1; i >= 0; i--) s = s * x + c[i]!;
  return s;
}

export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile needs a probability in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(CENTRE_NUM, r)) / poly(CENTRE_DEN, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x = poly(NEAR_NUM, r) / poly(NEAR_DEN, r);
  } else {
    r -= 5;
    x = poly(FAR_NUM, r) / poly(FAR_DEN, r);
  }
  return q < 0 ? -x : x;
}

/** The two-sided critical value of a confidence level: P(|Z| <= z) = level. */
export function zForLevel(level: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`a confidence level lies strictly between 0 and 1, got ${level}`);
  return normalQuantile(1 - (1 - level) / 2);
}
