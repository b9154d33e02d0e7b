import { CssBaseline, ThemeProvider, createTheme } from '@mui/material';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { BackendStatusBanner } from './components/BackendStatusBanner';

/** Focus must be seen: a thick outline of a colour that stands out on white, on the blue bar and on images. */
const FOCUS = { outline: '3px solid #c51162', outlineOffset: 2 };

const theme = createTheme({
  palette: {
    mode: 'light',
    primary: { main: '#3d5afe' },
    // Darker than MUI's defaults so white text on them and coloured text on white meet WCAG AA (4.5:1).
    secondary: { main: '#00695c' },
    warning: { main: '#b45309' },
    success: { main: '#1b5e20' },
    error: { main: '#c62828' },
    info: { main: '#01579b' },
    text: { secondary: 'rgba(0, 0, 0, 0.68)' },
  },
  typography: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
  components: {
    MuiCssBaseline: {
      styleOverrides: {
        ':focus-visible:not(input):not(textarea)': FOCUS,
        kbd: { fontFamily: 'monospace', border: '1px solid #9e9e9e', borderRadius: 3, padding: '0 4px', background: '#f5f5f5' },
      },
    },
    MuiButtonBase: { styleOverrides: { root: { '&.Mui-focusVisible': FOCUS } } },
    MuiInputBase: { styleOverrides: { root: { '&.Mui-focused:has(:focus-visible)': { boxShadow: '0 0 0 2px #c51162' } } } },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <App />
      <BackendStatusBanner />
    </ThemeProvider>
  </StrictMode>,
);
