import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import { nbopsIcon } from './icon';
// The sidebar tab has to exist as soon as the application starts.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { EXTENSION_TITLE, NbopsPanel } from './panel';

/**
 * The id of the plugin; its settings live under the same id.
 */
const PLUGIN_ID = 'nbops:plugin';

/**
 * The id of the sidebar panel (also its DOM id).
 */
export const SIDEBAR_ID = 'nbops-sidebar';

/**
 * The command ids.
 */
export namespace CommandIDs {
  export const openSidebar = 'nbops:open-sidebar';
  export const refresh = 'nbops:refresh';
}

/**
 * The nbops sidebar: recent runs of the tracking store the server reads.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Adds the nbops sidebar listing recent tracked runs, and commands to open and refresh it.',
  autoStart: true,
  optional: [ISettingRegistry, ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('nbops');

    const panel = new NbopsPanel({ translator: translator ?? nullTranslator });
    panel.id = SIDEBAR_ID;
    panel.title.icon = nbopsIcon;
    panel.title.caption = EXTENSION_TITLE;
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, SIDEBAR_ID);
    }

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: trans.__('Open nbops sidebar'),
      caption: trans.__('Show the list of recent nbops runs'),
      icon: nbopsIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });

    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh nbops runs'),
      caption: trans.__('Reload the list of recent nbops runs'),
      icon: refreshIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => panel.refresh()
    });

    if (palette) {
      const category = trans.__('nbops');
      palette.addItem({ command: CommandIDs.openSidebar, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = (): void => {
            panel.configure({
              refreshInterval: settings.get('refreshInterval')
                .composite as number,
              pageSize: settings.get('pageSize').composite as number
            });
          };
          apply();
          settings.changed.connect(apply);
          panel.disposed.connect(() => {
            settings.changed.disconnect(apply);
          });
        })
        .catch(reason => {
          console.error('nbops: could not load the settings.', reason);
        });
    }
  }
};

export default plugin;
