import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A small laboratory flask, its lower half filled. The `jp-icon3` class lets the
 * theme recolour it (light and dark).
 */
const FLASK_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" fill-rule="evenodd" d="M8 2h8v2h-1.5v5.1l5.6 9.5A2 2 0 0 1 18.4 21.6H5.6a2 2 0 0 1-1.7-3l5.6-9.5V4H8zM11 4v5.6L8.4 14h7.2L13 9.6V4z"/>
</svg>`;

export const nbopsIcon = new LabIcon({
  name: 'nbops:flask',
  svgstr: FLASK_SVG
});
