import { Box, Button, Typography } from '@mui/material';
import { useRef, useState } from 'react';

export interface InputImage {
  name: string;
  /** PNG data URL of the (possibly shrunk) image, for display. */
  dataUrl: string;
}

/** The longest side sent to the server: processors resize to a few hundred pixels anyway, and the request stays small. */
const MAX_SIDE = 448;

/** Decode a dropped or chosen file and re-encode it as PNG, no larger than MAX_SIDE. */
export async function readImage(file: File): Promise<InputImage> {
  if (!/^image\//.test(file.type)) throw new Error(`${file.name} is not an image.`);
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return { name: file.name, dataUrl: canvas.toDataURL('image/png') };
}

export const base64Of = (image: InputImage) => image.dataUrl.slice(image.dataUrl.indexOf(',') + 1);

/** Drop an image here or choose one; shows what was chosen. */
export function ImageDrop({
  image,
  onImage,
  onError,
}: {
  image: InputImage | null;
  onImage: (i: InputImage) => void;
  onError: (e: unknown) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const take = (file: File | undefined) => file && readImage(file).then(onImage, onError);
  return (
    <Box
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        void take(e.dataTransfer.files[0]);
      }}
      sx={{
        border: 2,
        borderStyle: 'dashed',
        borderColor: over ? 'primary.main' : 'divider',
        borderRadius: 1,
        p: 1,
        display: 'flex',
        gap: 1,
        alignItems: 'center',
        minHeight: 72,
      }}
      data-testid="image-drop"
    >
      {image ? (
        <img
          src={image.dataUrl}
          alt={`Your image: ${image.name}`}
          style={{ width: 64, height: 64, objectFit: 'contain', imageRendering: 'pixelated' }}
        />
      ) : null}
      <Box sx={{ minWidth: 0 }}>
        <Typography variant="body2">{image ? image.name : 'Drop an image here'}</Typography>
        <Button size="small" onClick={() => input.current?.click()}>
          {image ? 'Choose another…' : 'Choose an image…'}
        </Button>
      </Box>
      <input
        ref={input}
        type="file"
        accept="image/png,image/jpeg"
        hidden
        data-testid="image-file"
        aria-label="Image file"
        onChange={(e) => {
          void take(e.target.files?.[0]);
          e.target.value = '';
        }}
      />
    </Box>
  );
}
