"""Attribute pretraining of the demo's T5 encoder (stage `text`) and the attribute loss the teacher keeps.

The head: a masked mean over the encoder's rows for the real tokens ('</s>' included; the rows
common.encode_text gives the DiT), then one linear classifier per attribute (text_split.ATTRIBUTES).
Loss: cross-entropy summed over the attributes, each averaged over the captions that name it (IGNORE
labels, e.g. the background of a caption without one, and the empty caption count nowhere).
The head is training-only: exports carry the T5 alone.
"""
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import text_split


class AttributeHead(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(dim, len(c)) for c in text_split.CLASSES)

    def forward(self, out, lens):
        """out [B, L, dim] (encoder rows, padded), lens [B] -> one [B, classes] logit tensor per attribute."""
        mask = (torch.arange(out.shape[1], device=out.device)[None] < lens[:, None]).to(out.dtype)
        pooled = (out * mask[..., None]).sum(1) / lens.clamp(min=1)[:, None].to(out.dtype)
        return [lin(pooled) for lin in self.linears]


def encode(t5, tok, rows):
    """Token-table rows -> (encoder output [B, Lmax, dim] fp32, lens [B]); rows past lens are padding."""
    ids, lens, _ = tok
    sel_ids, sel_lens = ids[rows], lens[rows]
    sel_ids = sel_ids[:, :int(sel_lens.max())]
    mask = (torch.arange(sel_ids.shape[1], device=sel_ids.device)[None] < sel_lens[:, None]).long()
    return t5(sel_ids, mask).float(), sel_lens


def as_context(out, lens):
    """The DiT's text context from encode()'s output: common.encode_text's list of [len_i, dim]."""
    return [o[:n] for o, n in zip(out, lens.tolist())]


def attribute_loss(logits, labels):
    """Sum over attributes of the mean cross-entropy over the captions that name the attribute."""
    total = logits[0].new_zeros(())
    for j, lg in enumerate(logits):
        y = labels[:, j]
        ce = F.cross_entropy(lg.float(), y.clamp(min=0), reduction="none")
        keep = (y != text_split.IGNORE).float()
        total = total + (ce * keep).sum() / keep.sum().clamp(min=1)
    return total


def label_table(split, device):
    """[rows of the table, 4] long: the labels of every row the text encoder may learn from, IGNORE elsewhere
    (held-out constructions, held-out triples, undrawn tuples and the empty caption never teach it)."""
    table = torch.full((split.empty + 1, 4), text_split.IGNORE, dtype=torch.long)
    rows = split.train_rows()
    table[rows] = torch.tensor([split.labels(r) for r in rows], dtype=torch.long)
    return table.to(device)


def check_table(split, tok_meta):
    """The token table on disk has the geometry text_split computes (else labels would name other captions)."""
    want = {"offset": split.offset, "empty": split.empty, "per_tuple": split.per}
    got = {k: tok_meta[k] for k in want}
    if got != want:
        raise SystemExit(f"tokens.pt geometry {got} differs from text_split's {want}; rerun --stages prepare")


def pretrain(t5, head, tok, split, steps, seconds, batch, lr_at, log, device):
    """AdamW on the attribute loss over split.train_rows(). lr_at(step, done) gives the learning rate; done is the
    fraction of the stage by steps or by time, whichever is further (as the other stages)."""
    rows = torch.tensor(split.train_rows(), device=device)
    labels = label_table(split, device)
    params = list(t5.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr_at(0, 0.0), betas=(0.9, 0.99), weight_decay=0.01)
    gen = torch.Generator(device=device).manual_seed(60)
    t5.train(), head.train()
    t0, seen, hits = time.time(), 0, 0
    for step in range(steps):
        done = max(step / steps, (time.time() - t0) / seconds)
        if done >= 1:
            log(f"text: time cap at step {step}")
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, done)
        sel = rows[torch.randint(len(rows), (batch,), device=device, generator=gen)]
        logits = head(*encode(t5, tok, sel))
        loss = attribute_loss(logits, labels[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            ok = torch.stack([(lg.argmax(1) == labels[sel, j]) | (labels[sel, j] == text_split.IGNORE)
                              for j, lg in enumerate(logits)]).all(0)
        seen, hits = seen + batch, hits + int(ok.sum())
        if step % 200 == 0 or step == steps - 1:
            log(f"text {step}/{steps} loss {loss.item():.4f} all-four (train batches since last log) "
                f"{hits / max(seen, 1):.3f} {time.time() - t0:.0f}s")
            seen, hits = 0, 0
    t5.eval(), head.eval()
    return step + 1


@torch.no_grad()
def evaluate(t5, head, tok, split, device, batch=512):
    """Accuracy per attribute (over captions naming it) and all-four-correct (IGNORE counts as correct) on each
    of text_split's evaluation sets, plus the worst confusions per set."""
    was = t5.training, head.training
    t5.eval(), head.eval()
    result = {}
    for name, rows in split.eval_sets().items():
        labels = torch.tensor([split.labels(r) for r in rows], dtype=torch.long)
        preds = []
        for i in range(0, len(rows), batch):
            sel = torch.tensor(rows[i:i + batch], device=device)
            preds.append(torch.stack([lg.argmax(1) for lg in head(*encode(t5, tok, sel))], 1).cpu())
        pred = torch.cat(preds)
        named = labels != text_split.IGNORE
        right = (pred == labels) | ~named
        entry = {"captions": len(rows)}
        for j, a in enumerate(text_split.ATTRIBUTES):
            entry[a] = round(float(right[named[:, j], j].float().mean()), 4) if named[:, j].any() else None
        entry["all_four"] = round(float(right.all(1).float().mean()), 4)
        wrong = [(split.caption(rows[i])[0], text_split.ATTRIBUTES[j], text_split.CLASSES[j][int(pred[i, j])])
                 for i, j in (~right).nonzero().tolist()[:6]]
        entry["examples_wrong"] = [{"caption": c, "attribute": a, "predicted": p} for c, a, p in wrong]
        result[name] = entry
    t5.train(was[0]), head.train(was[1])
    return result


def report(result, log, path):
    for name, e in result.items():
        accs = " ".join(f"{a} {e[a]:.3f}" for a in text_split.ATTRIBUTES if e[a] is not None)
        log(f"text eval {name} ({e['captions']} captions): {accs}, all four {e['all_four']:.3f}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
