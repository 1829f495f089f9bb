// Runs a batch of SPARQL queries with Comunica (one engine start-up for all: it is slow) and prints
// one JSON line per query: {"rows": [...]} for SELECT, {"boolean": b} for ASK, {"quads": [...]} for
// CONSTRUCT, or {"error": "..."}. Input on stdin: [{"kind", "query", "sources": [...]}, ...], where a
// source is {"type": "sparql", "value": URL} or a URL string (a Turtle file). Used by
// tests/test_comunica.py.
'use strict';
const { QueryEngine } = require('@comunica/query-sparql');

function term(t) {
  const out = { termType: t.termType, value: t.value };
  if (t.termType === 'Literal') {
    out.language = t.language;
    out.datatype = t.datatype.value;
  }
  return out;
}

async function run(engine, job) {
  const context = { sources: job.sources, lenient: false };
  if (job.kind === 'select') {
    const bindings = await (await engine.queryBindings(job.query, context)).toArray();
    return { rows: bindings.map((b) => Object.fromEntries([...b].map(([k, v]) => [k.value, term(v)]))) };
  }
  if (job.kind === 'ask') {
    return { boolean: await engine.queryBoolean(job.query, context) };
  }
  const quads = await (await engine.queryQuads(job.query, context)).toArray();
  return { quads: quads.map((q) => [term(q.subject), term(q.predicate), term(q.object)]) };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const jobs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const engine = new QueryEngine();
  for (const job of jobs) {
    let result;
    try {
      result = await run(engine, job);
    } catch (e) {
      result = { error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(2);
});
