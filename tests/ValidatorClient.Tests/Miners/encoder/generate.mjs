// Encodes the subtensor test scenario with @polkadot/types and @polkadot/util-crypto, driven by the real runtime
// metadata recorded from a subtensor node, so that the C# decoder under test is checked against an independent
// encoder. Writes into the directory given as the first argument (default ../Data):
//   recorded-values.json               every recorded storage value with polkadot's decoding of it (as leaves)
//   scenario.json                      a 256-uid subnet at two blocks: storage keys and SCALE values
//   scoring-scenario.json              a 5-uid subnet at one block, committing local test images: the same shape
//   metadata-without-commitments.txt.gz the recorded metadata re-encoded without the Commitments pallet
// Usage: npm ci && node generate.mjs [outdir]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { TypeRegistry, Metadata } from '@polkadot/types';
import { decorateStorage } from '@polkadot/types/metadata/decorate';
import { compactStripLength, hexToU8a, u8aToHex, stringToU8a } from '@polkadot/util';
import { blake2AsU8a, encodeAddress, xxhashAsHex } from '@polkadot/util-crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
const data = path.join(here, '..', 'Data');
const out = path.resolve(process.argv[2] ?? data);
fs.mkdirSync(out, { recursive: true });

// The registry prints a note about the chain's own signed extensions; it changes nothing here.
const warn = console.warn;
console.warn = (...args) => { if (!String(args.join(' ')).includes('Unknown signed extensions')) warn(...args); };
const log = console.log;
console.log = (...args) => { if (!String(args.join(' ')).includes('Unknown signed extensions')) log(...args); };

const metadataHex = zlib.gunzipSync(fs.readFileSync(path.join(data, 'integration_websocket_metadata.txt.gz'))).toString('utf8').trim();
const registry = new TypeRegistry();
const metadata = new Metadata(registry, metadataHex);
registry.setMetadata(metadata);
const storage = decorateStorage(registry, metadata.asLatest, metadata.version);

const write = (name, value) => fs.writeFileSync(path.join(out, name), JSON.stringify(value, null, 1) + '\n');

// ---- recorded values: what polkadot reads in each storage value the node answered --------------------------------

/** A decoded value's leaves in order: integers in decimal, booleans, bytes as 0x-hex, enum names before their fields. */
function leaves(codec) {
  const type = codec.constructor.name;
  if (codec.isNone !== undefined && codec.isSome !== undefined && typeof codec.unwrap === 'function') {
    return codec.isSome ? leaves(codec.unwrap()) : [];
  }
  if (codec instanceof Uint8Array) return [u8aToHex(codec)];
  if (typeof codec.isBasic === 'boolean' && codec.type !== undefined && codec.index !== undefined) {
    return [codec.type, ...(codec.isBasic ? [] : leaves(codec.inner))];
  }
  if (codec instanceof Map) return [...codec.values()].flatMap(leaves);
  if (Array.isArray(codec)) return codec.flatMap(leaves);
  if (typeof codec.isTrue === 'boolean') return [codec.isTrue ? 'true' : 'false'];
  if (typeof codec.toBn === 'function') return [codec.toBn().toString(10)];
  throw new Error(`no leaves for ${type}`);
}

const prefixes = new Map();
for (const section of Object.values(storage)) {
  for (const entry of Object.values(section)) {
    prefixes.set(u8aToHex(entry.keyPrefix()), entry);
  }
}
const recordings = JSON.parse(fs.readFileSync(path.join(data, 'integration_websocket_data.json'), 'utf8'));
const recorded = [];
const seen = new Set();
for (const [seed, methods] of Object.entries(recordings)) {
  const reads = [];
  for (const [params, answer] of Object.entries(methods.state_getStorageAt ?? {})) {
    reads.push([JSON.parse(params)[0], answer.result]);
  }
  for (const answer of Object.values(methods.state_queryStorageAt ?? {})) {
    for (const set of answer.result) reads.push(...set.changes);
  }
  for (const [key, value] of reads) {
    const entry = prefixes.get(key.slice(0, 66));
    if (!entry || value === null || seen.has(key)) continue;
    seen.add(key);
    const valueType = entry.meta.type.isMap ? entry.meta.type.asMap.value : entry.meta.type.asPlain;
    const decoded = registry.createType(registry.createLookupType(valueType), hexToU8a(value));
    recorded.push({ seed, item: `${entry.section}.${entry.method}`, key, value, leaves: leaves(decoded) });
  }
}
recorded.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
write('recorded-values.json', recorded);

// ---- the scenarios: a subnet's storage at a block ------------------------------------------------------------------

const hotkey = uid => blake2AsU8a(stringToU8a(`affinetes scenario hotkey ${uid}`), 256);
const bytes = text => stringToU8a(text);
// A Uint8Array given for Bytes would be read as already length-prefixed: BigRaw takes a plain array.
const raw = b => b.length <= 128 ? { [`Raw${b.length}`]: b } : { BigRaw: Array.from(b) };
const digest = u8aToHex(blake2AsU8a(stringToU8a('affinetes image'), 256)).slice(2);

/**
 * The storage of `netuid` with `uids` uids at block `name`: what `commitment(uid, name)` gives each uid that has a
 * hotkey and a commitment, and the miners as the tests expect them.
 */
function blockStorage(name, { netuid, uids, commitment, noCommitment, noHotkey, commitBlockOf }) {
  const values = {};
  const put = (key, type, value) => {
    // A decorated storage function gives the key length-prefixed, as it is passed to a runtime call; and an
    // integer's toHex() is big-endian, not its SCALE encoding: values are written from toU8a().
    values[u8aToHex(compactStripLength(key)[1])] = u8aToHex(registry.createType(registry.createLookupType(type), value).toU8a());
  };
  const item = (section, method) => storage[section][method];
  const valueType = entry => entry.meta.type.isMap ? entry.meta.type.asMap.value : entry.meta.type.asPlain;
  put(item('subtensorModule', 'networksAdded')(netuid), valueType(item('subtensorModule', 'networksAdded')), true);
  put(item('subtensorModule', 'subnetworkN')(netuid), valueType(item('subtensorModule', 'subnetworkN')), uids);
  const miners = [];
  for (let uid = 0; uid < uids; uid++) {
    const account = hotkey(uid);
    const ss58 = noHotkey(uid) ? null : encodeAddress(account, 42);
    if (!noHotkey(uid)) {
      put(item('subtensorModule', 'keys')(netuid, uid), valueType(item('subtensorModule', 'keys')), account);
    }
    let expected = { uid, hotkey: ss58, kind: noHotkey(uid) ? 'no-hotkey' : 'no-commitment' };
    if (!noHotkey(uid) && !noCommitment(uid)) {
      const c = commitment(uid, name);
      const commitBlock = commitBlockOf(uid, name);
      put(item('commitments', 'commitmentOf')(netuid, account), valueType(item('commitments', 'commitmentOf')),
        { deposit: 1_000_000 + uid, block: commitBlock, info: { fields: c.fields } });
      expected = { uid, hotkey: ss58, kind: c.kind, image: c.image ?? null, commitBlock };
    }
    miners.push(expected);
  }
  return { values, miners };
}

const hashOf = name => u8aToHex(blake2AsU8a(stringToU8a(`affinetes scenario block ${name}`), 256));
const systemPallet = metadata.asLatest.pallets.find(p => p.name.toString() === 'System');
const versionConstant = systemPallet.constants.find(c => c.name.toString() === 'Version');
const specVersion = registry.createType(registry.createLookupType(versionConstant.type), versionConstant.value).toJSON().specVersion;
const twox128 = Object.fromEntries(['System', 'Account', 'SubtensorModule', 'Keys', 'Commitments', 'CommitmentOf'].map(n => [n, xxhashAsHex(n, 128)]));

// ---- scenario: subnet 7 with 256 uids at blocks A and B --------------------------------------------------------------

/** What each uid committed at block A (and at B when it changed); the kind names the case the tests assert. */
function commitment(uid, block) {
  const image = `ghcr.io/miner-${uid}/affine:v${uid}`;
  switch (uid) {
    case 2: return { kind: 'not-utf8', fields: [raw(new Uint8Array([0x6d, 0xff, 0xfe, 0x41]))] };
    case 3: return { kind: 'not-an-image', fields: [raw(bytes('Hello World!'))] };
    case 4: return { kind: 'empty', fields: [raw(new Uint8Array())] };
    case 5: return { kind: 'fields-agree', image, fields: [raw(bytes(image)), raw(bytes(image))] };
    case 6: return { kind: 'fields-disagree', fields: [raw(bytes(image)), raw(bytes(`${image}-other`))] };
    case 7: return block === 'A'
      ? { kind: 'changed', image: 'ghcr.io/miner-7/affine:old', fields: [raw(bytes('ghcr.io/miner-7/affine:old'))] }
      : { kind: 'changed', image: 'ghcr.io/miner-7/affine:new', fields: [raw(bytes('ghcr.io/miner-7/affine:new'))] };
    case 8: return { kind: 'hash-only', fields: [{ Sha256: blake2AsU8a(bytes(image), 256) }] };
    case 9: return { kind: 'with-flag', image, fields: [raw(bytes(image)), { ResetBondsFlag: null }] };
    case 10: {
      const pinned = `registry.example.com:5000/some-organisation/a-rather-long-miner-repository-name-${uid}:v1@sha256:${digest}`;
      return { kind: 'big-raw', image: pinned, fields: [raw(bytes(pinned))] };
    }
    case 12: return { kind: 'not-an-image', fields: [raw(bytes('Registry/Miner:v1'))] };
    case 13: return { kind: 'not-an-image', fields: [raw(bytes(`${image}\n`))] };
    default: return { kind: 'image', image: uid % 3 === 0 ? `${image}@sha256:${digest}` : image, fields: [raw(bytes(image + (uid % 3 === 0 ? `@sha256:${digest}` : '')))] };
  }
}
const subnet7 = {
  netuid: 7,
  uids: 256,
  commitment,
  noCommitment: uid => uid % 16 === 1,
  noHotkey: uid => uid === 11,
  commitBlockOf: (uid, name) => uid === 7 && name === 'B' ? 4_999_990 : 4_000_000 + uid,
};

const a = blockStorage('A', subnet7);
const b = blockStorage('B', subnet7);
write('scenario.json', {
  note: 'Generated by tests/ValidatorClient.Tests/Miners/encoder/generate.mjs with @polkadot/types from the recorded subtensor metadata; do not edit.',
  netuid: subnet7.netuid,
  specVersion,
  twox128,
  blocks: [
    { name: 'A', number: 5_000_000, hash: hashOf('A'), parentHash: hashOf('parent of A'), storage: a.values, miners: a.miners },
    { name: 'B', number: 5_000_001, hash: hashOf('B'), parentHash: hashOf('A'), storage: b.values, miners: b.miners },
  ],
});

// ---- scoring scenario: subnet 9 with 5 uids at one block, whose images the Docker tests evaluate -------------------

// The tests tag their local test images with these names (never pulled: they are on the engine while the tests run);
// the pinned one is on no engine and names the registry at 127.0.0.1:5000, where it is not either.
const scoringImages = {
  1: { kind: 'image', image: 'affinetes-test/chain-good:v1' },
  3: { kind: 'image', image: 'affinetes-test/chain-random:v1' },
  4: { kind: 'image', image: `127.0.0.1:5000/affinetes-test/chain-missing@sha256:${digest}` },
};
const subnet9 = {
  netuid: 9,
  uids: 5,
  commitment: uid => uid === 2
    ? { kind: 'not-an-image', fields: [raw(bytes('my miner, version 2'))] }
    : { ...scoringImages[uid], fields: [raw(bytes(scoringImages[uid].image))] },
  noCommitment: uid => uid === 0,
  noHotkey: () => false,
  commitBlockOf: uid => 5_900_000 + uid,
};
const s = blockStorage('S', subnet9);
write('scoring-scenario.json', {
  note: 'Generated by tests/ValidatorClient.Tests/Miners/encoder/generate.mjs with @polkadot/types from the recorded subtensor metadata; do not edit.',
  netuid: subnet9.netuid,
  specVersion,
  twox128,
  blocks: [
    { name: 'S', number: 6_000_000, hash: hashOf('S'), parentHash: hashOf('parent of S'), storage: s.values, miners: s.miners },
  ],
});

// ---- the same metadata without the Commitments pallet, as a chain that is not subtensor would have -----------------

const v14 = metadata.asV14.toJSON();
v14.pallets = v14.pallets.filter(p => p.name !== 'Commitments');
const stripped = new Metadata(new TypeRegistry(), { magicNumber: metadata.magicNumber, metadata: { v14 } });
fs.writeFileSync(path.join(out, 'metadata-without-commitments.txt.gz'), zlib.gzipSync(Buffer.from(stripped.toHex() + '\n'), { level: 9 }));
log(`wrote ${recorded.length} recorded values, ${subnet7.uids} scenario uids at 2 blocks, ${subnet9.uids} scoring scenario uids at 1 block, and a metadata without Commitments to ${out}`);
