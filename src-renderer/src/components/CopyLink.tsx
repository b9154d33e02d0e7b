import { Button, Tooltip } from '@mui/material';
import { useState } from 'react';
import { routeUrl, type PageId } from '../lib/router';

/** Copies this view's URL (on `ocular serve`, the server's address with the route), for a lab member to open. */
export function CopyLink({ page, ids }: { page: PageId; ids: number[] }) {
  const [copied, setCopied] = useState<string | null>(null);
  const url = routeUrl(page, ids);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied('Link copied');
    } catch {
      // Clipboard access needs a secure context (https or localhost); fall back to a selection copy.
      const field = document.createElement('textarea');
      field.value = url;
      document.body.appendChild(field);
      field.select();
      const ok = document.execCommand('copy');
      field.remove();
      setCopied(ok ? 'Link copied' : `Copy this link: ${url}`);
    }
    setTimeout(() => setCopied(null), 2500);
  };
  return (
    <Tooltip title={copied ?? url} open={copied !== null ? true : undefined} describeChild>
      <Button size="small" variant="outlined" onClick={copy} data-testid="copy-link" data-url={url}>
        Copy link
      </Button>
    </Tooltip>
  );
}
