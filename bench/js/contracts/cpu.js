// CPU-bound: integer mixing and a sieve, no I/O.
function main(request) {
  const { n } = JSON.parse(request);
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + (i ^ (s >>> 3))) | 0;
  const lim = 2000000, sieve = new Uint8Array(lim + 1);
  let primes = 0;
  for (let i = 2; i <= lim; i++) {
    if (!sieve[i]) { primes++; for (let j = i * i; j <= lim; j += i) sieve[j] = 1; }
  }
  return JSON.stringify({ s, primes });
}
