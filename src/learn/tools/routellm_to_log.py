#!/usr/bin/env python3
"""A decision log as a cascade with a perfect verifier would have written it over RouteLLM's per-prompt
results: every prompt asked of the weak model first, accepted when it was right, escalated to the strong
model when it was wrong. For trying `switchyard train --from-log` on realistic traffic without a gateway:

  python3 src/learn/tools/routellm_to_log.py ../shared/data/routellm/mmlu/responses /tmp/mmlu_log.jsonl
  build/switchyard train --from-log /tmp/mmlu_log.jsonl --strong gpt4 --weak mixtral --out router.sylm \\
      --current config/demo-router.sylm --price gpt4=10,30 --price mixtral=0.6,0.6

Reads the data where it is (never copy it into the repo). Token counts are bytes/4 of the prompt and 60
completion tokens; prices as in config/cascade-eval.yaml."""
import csv
import hashlib
import json
import os
import sys

WEAK, STRONG = 'mistralai/Mixtral-8x7B-Instruct-v0.1', 'gpt-4-1106-preview'
PRICE = {'mixtral': (0.6, 0.6), 'gpt4': (10.0, 30.0)}  # USD per 1M input, output tokens


def cost(model, prompt_tokens, completion_tokens):
    i, o = PRICE[model]
    return (prompt_tokens * i + completion_tokens * o) / 1e6


def main(src, out):
    csv.field_size_limit(1 << 30)
    files = [os.path.join(src, f) for f in sorted(os.listdir(src)) if f.endswith('.csv')] if os.path.isdir(src) else [src]
    n = 0
    with open(out, 'w') as log:
        for path in files:
            for row in csv.DictReader(open(path, newline='')):
                prompt, right = row['prompt'], row[WEAK] in ('True', '1', '1.0')
                pt, ct = max(1, len(prompt.encode()) // 4), 60
                line = {'request_id': 'req_' + hashlib.sha1((path + prompt).encode()).hexdigest()[:24],
                        'router': 'cascade', 'status': 200, 'prompt': prompt, 'prompt_tokens': pt, 'completion_tokens': ct}
                if right:
                    line.update(model='mixtral', cascade='mixtral:accepted(0.90)', cost_usd=cost('mixtral', pt, ct))
                else:
                    line.update(model='gpt4', cascade='mixtral:rejected(0.20) -> gpt4:routed',
                                cost_usd=cost('mixtral', pt, ct) + cost('gpt4', pt, ct))
                log.write(json.dumps(line) + '\n')
                n += 1
    print(f'{n} request lines written to {out}', file=sys.stderr)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: routellm_to_log.py ROUTELLM_CSV_OR_DIR OUT.jsonl')
    main(sys.argv[1], sys.argv[2])
