// The inputs every runner uses (node scripts require this; the C driver gets them as JSON files).
const symbols = ['BTC', 'ETH', 'PHA', 'DOT', 'SOL', 'ATOM', 'LINK', 'UNI'];
const venues = ['a', 'b', 'c', 'd', 'e'];
const quotes = [];
for (let i = 0; i < 200; i++)
  quotes.push({ symbol: symbols[i % symbols.length], venue: venues[(i * 7) % venues.length], price: 100 + ((i * 37) % 101) / 7 });
module.exports = {
  trivial: JSON.stringify({ n: 7 }),
  transform: JSON.stringify({ ts: 1700000000, quotes }),
  cpu: JSON.stringify({ n: 50000000 }),
};
if (require.main === module) {
  const fs = require('fs');
  for (const [k, v] of Object.entries(module.exports)) fs.writeFileSync(process.argv[2] + '/' + k + '.json', JSON.stringify(v));
}
