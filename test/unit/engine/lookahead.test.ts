// The LM lookahead's trie walk (decode/lookahead.ts) over a made-up model whose next-token logits
// depend on the last cached token: the whole-name log-probabilities equal the sums taken token by
// token, common prefixes are stepped once, and the cache ends as it began.
import { describe, expect, it } from 'vitest';
import { scoreSequences } from '../../../src/engine/decode/lookahead';

const V = 5;
const table = (last: number) => Float32Array.from({ length: V }, (_, t) => Math.sin(3 * last + t) * 2);
const lsm = (x: Float32Array, t: number) => x[t] - Math.log(x.reduce((a, v) => a + Math.exp(v), 0));

function fakeModel(start: number[]) {
  const cache = [...start];
  const steps: number[][] = [];
  return {
    cache,
    steps,
    deps: {
      step: async (ids: number[]) => {
        steps.push([...cache, ...ids]);
        cache.push(...ids);
        return { logits: table(cache[cache.length - 1]) };
      },
      cacheLength: () => cache.length,
      truncate: (n: number) => void (cache.length = Math.min(cache.length, n)),
      cancelled: () => false,
    },
  };
}

describe('scoreSequences', () => {
  it('sums the log-probabilities token by token, stepping each shared prefix once, and restores the cache', async () => {
    const f = fakeModel([4, 2]);
    const seqs = new Map<string, number[]>([['ab', [1, 3]], ['ac', [1, 0, 2]], ['b', [3]], ['abd', [1, 3, 4]]]);
    const got = await scoreSequences(f.deps, seqs, table(2));
    const direct = (ids: number[]) => {
      let lp = lsm(table(2), ids[0]);
      for (let i = 1; i < ids.length; i++) lp += lsm(table(ids[i - 1]), ids[i]);
      return lp;
    };
    for (const [name, ids] of seqs) expect(got.get(name)).toBeCloseTo(direct(ids), 5);
    // steps: [1] once (shared by ab, ac, abd), then [1,3] (abd) and [1,0] (ac); `b` is one token: no step
    expect(f.steps.map((s) => s.slice(2).join(','))).toEqual(['1', '1,3', '1,0']);
    expect(f.cache).toEqual([4, 2]);
  });

  it('leaves the cache as it was when a step fails, and stops when cancelled', async () => {
    const f = fakeModel([1]);
    const failing = { ...f.deps, step: async (ids: number[]) => { f.cache.push(...ids); throw new Error('graph failed'); } };
    await expect(scoreSequences(failing, new Map([['xy', [2, 3]]]), table(1))).rejects.toThrow('graph failed');
    expect(f.cache).toEqual([1]);
    const g = fakeModel([1]);
    const none = await scoreSequences({ ...g.deps, cancelled: () => true }, new Map([['xy', [2, 3]], ['z', [4]]]), table(1));
    expect(none.size).toBe(0);
    expect(g.steps).toEqual([]);
  });
});
