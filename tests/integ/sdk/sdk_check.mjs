// Drives xcapd with the official Cloudflare SDK (npm "cloudflare"), nothing
// changed but the base URL: every route of the PCAP collection API, and an
// error as the SDK sees it. Prints "ok - ..." / "not ok - ..." lines.
// Env: XCAP_BASE, XCAP_TOKEN, XCAP_ACCOUNT, XCAP_COLO, BUCKET_DIR.
import Cloudflare from 'cloudflare';
import { readFileSync, readdirSync } from 'node:fs';

const env = (k) => {
	if (!process.env[k]) throw new Error(`${k} is not set`);
	return process.env[k];
};
const client = new Cloudflare({ apiToken: env('XCAP_TOKEN'), baseURL: env('XCAP_BASE'), maxRetries: 0 });
const account_id = env('XCAP_ACCOUNT');
const bucketDir = env('BUCKET_DIR');
const dest = `file://${bucketDir}`;
let failed = 0;

async function check(name, fn) {
	try {
		await fn();
		console.log(`ok - sdk: ${name}`);
	} catch (e) {
		failed++;
		console.log(`not ok - sdk: ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
	}
}
function assert(cond, what) {
	if (!cond) throw new Error(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// ownership.get is a single page in the SDK: iterate it.
async function buckets() {
	const list = [];
	for await (const b of client.magicTransit.pcaps.ownership.get({ account_id })) list.push(b);
	return list;
}

let bucket, full, simple;
await check('ownership.create writes the challenge and answers pending', async () => {
	bucket = await client.magicTransit.pcaps.ownership.create({ account_id, destination_conf: dest });
	assert(bucket.status === 'pending', `status ${bucket.status}`);
	assert(readdirSync(bucketDir).includes(bucket.filename), `no ${bucket.filename} in the bucket`);
});
await check('ownership.validate with the file content succeeds', async () => {
	const token = readFileSync(`${bucketDir}/${bucket.filename}`, 'utf8').trim();
	const v = await client.magicTransit.pcaps.ownership.validate({
		account_id, destination_conf: dest, ownership_challenge: token,
	});
	assert(v.status === 'success' && v.validated, JSON.stringify(v));
});
await check('ownership.get lists the bucket', async () => {
	const list = await buckets();
	assert(list.some((b) => b.id === bucket.id), JSON.stringify(list));
});
await check('pcaps.create full answers with the capture', async () => {
	full = await client.magicTransit.pcaps.create({
		account_id, type: 'full', system: 'magic-transit', time_limit: 60, packet_limit: 5,
		colo_name: env('XCAP_COLO'), destination_conf: dest, filter_v1: { protocol: 1 },
	});
	assert(full.id && full.type === 'full', JSON.stringify(full));
});
await check('pcaps.get follows the full capture to complete', async () => {
	let p;
	for (let i = 0; i < 100; i++) {
		p = await client.magicTransit.pcaps.get(full.id, { account_id });
		if (p.status === 'complete' || p.status === 'failed') break;
		await sleep(100);
	}
	assert(p.status === 'complete', JSON.stringify(p));
	assert(readdirSync(bucketDir).includes(`pcap_${full.id}.pcap`), 'no file in the bucket');
});
await check('pcaps.create simple and pcaps.download.get return a pcap', async () => {
	simple = await client.magicTransit.pcaps.create({
		account_id, type: 'simple', system: 'magic-transit', time_limit: 60, packet_limit: 3,
		filter_v1: { protocol: 1 },
	});
	assert(simple.status === 'success', JSON.stringify(simple));
	const resp = await client.magicTransit.pcaps.download.get(simple.id, { account_id });
	const buf = Buffer.from(await resp.arrayBuffer());
	assert(buf.readUInt32LE(0) === 0xa1b23c4d, `magic ${buf.readUInt32LE(0).toString(16)}`);
});
await check('pcaps.list iterates the captures, newest first', async () => {
	const ids = [];
	for await (const p of client.magicTransit.pcaps.list({ account_id })) ids.push(p.id);
	assert(ids[0] === simple.id && ids.includes(full.id), JSON.stringify(ids));
});
await check('pcaps.stop of a finished capture is an APIError 400', async () => {
	try {
		await client.magicTransit.pcaps.stop(full.id, { account_id });
		throw new Error('no error');
	} catch (e) {
		assert(e instanceof Cloudflare.APIError && e.status === 400, `${e}`);
		assert(e.errors?.[0]?.code >= 1000, JSON.stringify(e.errors));
	}
});
await check('pcaps.stop of a running capture succeeds', async () => {
	const run = await client.magicTransit.pcaps.create({
		account_id, type: 'full', system: 'magic-transit', time_limit: 300,
		colo_name: env('XCAP_COLO'), destination_conf: dest, filter_v1: { protocol: 1 },
	});
	await client.magicTransit.pcaps.stop(run.id, { account_id });
	/* The stop answers once the capture is finished; its delivery may still be running. */
	let p = await client.magicTransit.pcaps.get(run.id, { account_id });
	for (let i = 0; i < 100 && p.status.startsWith('conversion_'); i++) {
		await new Promise((r) => setTimeout(r, 100));
		p = await client.magicTransit.pcaps.get(run.id, { account_id });
	}
	assert(p.stop_requested && p.status === 'complete', JSON.stringify(p));
});
await check('a bad token is an AuthenticationError/PermissionDeniedError', async () => {
	const bad = new Cloudflare({ apiToken: 'nope', baseURL: env('XCAP_BASE'), maxRetries: 0 });
	try {
		await bad.magicTransit.pcaps.get(full.id, { account_id });
		throw new Error('no error');
	} catch (e) {
		assert(e instanceof Cloudflare.APIError && e.status === 403, `${e}`);
	}
});
await check('ownership.delete removes the bucket', async () => {
	await client.magicTransit.pcaps.ownership.delete(bucket.id, { account_id });
	const list = await buckets();
	assert(!list.some((b) => b.id === bucket.id), JSON.stringify(list));
});
process.exit(failed ? 1 : 0);
