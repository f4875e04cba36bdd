import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  ISanitizer,
  IThemeManager
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import { nbopsIcon } from './icon';
// The sidebar tab has to exist as soon as the application starts.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { EXTENSION_TITLE, NbopsPanel, SectionId, SECTIONS } from './panel';

/**
 * The id of the plugin; its settings live under the same id.
 */
const PLUGIN_ID = 'nbops:plugin';

/**
 * Where the panel's view (open sections, expanded models, selected version)
 * is kept across page reloads.
 */
const VIEW_STATE_KEY = 'nbops:sidebar-view';

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
  export const showSection = 'nbops:show-section';
}

/**
 * Commands after which notebooks (or consoles) may have logged something:
 * the sidebar polls soon again rather than after its backed-off delay.
 */
const RUN_COMMAND = /^(notebook|console|runmenu):run|^notebook:restart-run-all/;

/**
 * The nbops sidebar: registered models with their versions, gates, model
 * cards and monitoring charts; recent runs; alerts; the audit trail.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Adds the nbops sidebar: registered models (gates, model cards, monitoring charts, promote and roll back), recent runs, alerts and the audit trail; and commands to open and refresh it.',
  autoStart: true,
  optional: [
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    ITranslator,
    IThemeManager,
    ISanitizer,
    IStateDB
  ],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    themeManager: IThemeManager | null,
    sanitizer: ISanitizer | null,
    state: IStateDB | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('nbops');

    const panel = new NbopsPanel({
      translator: translator ?? nullTranslator,
      sanitizer: sanitizer ?? undefined
    });
    panel.id = SIDEBAR_ID;
    panel.title.icon = nbopsIcon;
    panel.title.caption = EXTENSION_TITLE;
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, SIDEBAR_ID);
    }

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: trans.__('Open nbops sidebar'),
      caption: trans.__(
        'Show the nbops sidebar: models, runs, alerts and the audit trail'
      ),
      icon: nbopsIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });

    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh nbops sidebar'),
      caption: trans.__(
        'Reload the models, deployments, prompts, readiness, runs, alerts and audit trail of the nbops sidebar'
      ),
      icon: refreshIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        panel.nudge();
        return panel.refresh();
      }
    });

    const sectionLabels: { [section in SectionId]: string } = {
      models: trans.__('Show nbops models'),
      deployments: trans.__('Show nbops deployments'),
      prompts: trans.__('Show nbops prompts'),
      readiness: trans.__('Show nbops readiness'),
      runs: trans.__('Show nbops runs'),
      alerts: trans.__('Show nbops alerts'),
      audit: trans.__('Show nbops audit trail')
    };
    app.commands.addCommand(CommandIDs.showSection, {
      label: args =>
        sectionLabels[args.section as SectionId] ??
        trans.__('Show an nbops section'),
      caption: trans.__('Open the nbops sidebar at one of its sections'),
      icon: nbopsIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            section: { type: 'string', enum: SECTIONS }
          },
          required: ['section']
        }
      },
      execute: args => {
        const section = args.section as SectionId;
        if (!SECTIONS.includes(section)) {
          return;
        }
        app.shell.activateById(panel.id);
        panel.showSection(section);
      }
    });

    if (palette) {
      const category = trans.__('nbops');
      palette.addItem({ command: CommandIDs.openSidebar, category });
      palette.addItem({ command: CommandIDs.refresh, category });
      for (const section of SECTIONS) {
        palette.addItem({
          command: CommandIDs.showSection,
          args: { section },
          category
        });
      }
    }

    // Charts are drawn in the theme's colours: redraw them when it changes.
    themeManager?.themeChanged.connect(() => panel.themeChanged());

    // A cell that ran may have logged a run, a model or a batch.
    const onCommand = (_: unknown, executed: { id: string }): void => {
      if (RUN_COMMAND.test(executed.id)) {
        panel.nudge();
      }
    };
    app.commands.commandExecuted.connect(onCommand);
    panel.disposed.connect(() => {
      app.commands.commandExecuted.disconnect(onCommand);
    });

    if (state) {
      // Restore what the user had open, then keep it up to date.
      void Promise.all([state.fetch(VIEW_STATE_KEY), app.restored])
        .then(([saved]) => {
          panel.restoreViewState(saved);
        })
        .catch(reason => {
          console.warn('nbops: could not restore the sidebar view.', reason);
        })
        .then(() => {
          panel.viewStateChanged.connect((_, view) => {
            void state.save(VIEW_STATE_KEY, view as any);
          });
        });
    }

    // The server's first nbops request loads MLflow (a second or two): make it
    // while JupyterLab starts, so that the panel opens with its data.
    let prefetched = false;
    const prefetch = (enabled: boolean): void => {
      if (!prefetched && enabled) {
        void panel.prefetch();
      }
      prefetched = true;
    };

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
          prefetch(settings.get('prefetch').composite as boolean);
          settings.changed.connect(apply);
          panel.disposed.connect(() => {
            settings.changed.disconnect(apply);
          });
        })
        .catch(reason => {
          console.error('nbops: could not load the settings.', reason);
          prefetch(true);
        });
    } else {
      prefetch(true);
    }
  }
};

export default plugin;
